"""Builders for validation tests: a tiny GitOps repository with real data, real models, one spec."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class JitteryClassifier:
    """Predicts from the 4th decimal of x0: tiny noise flips it (a non-robust model)."""

    classes_ = np.array([0, 1])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (np.floor(np.abs(x[:, 0]) * 1e4) % 2).astype(int)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.predict(x).astype(float)
        return np.column_stack([1 - p, p])


class RaisingModel:
    """A model whose predict raises (a user's broken artifact)."""

    classes_ = np.array([0, 1])

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise RuntimeError("feature store unavailable")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise RuntimeError("feature store unavailable")


def classification_data(n: int, seed: int, *, shift: float = 0.0, biased: bool = False) -> pd.DataFrame:
    """x0..x3 numeric, 'group' sensitive (0/1), label y. ``biased``: y and x3 depend on the group."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4))
    x[:, 0] += shift
    if biased:
        x[:, 3] = group * 2.0 + rng.normal(scale=0.3, size=n)
        score = x[:, 0] + 0.5 * x[:, 1] + 2.5 * (group - 0.5)
    else:
        score = x[:, 0] + 0.5 * x[:, 1]
    y = (score + rng.normal(scale=0.5, size=n) > 0).astype(int)
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2", "x3"])
    frame["group"] = group
    frame["y"] = y
    return frame


FEATURES = ["x0", "x1", "x2", "x3"]


def write_repo(
    root: Path,
    ref: pd.DataFrame,
    ev: pd.DataFrame,
    models: dict[str, Any],
    *,
    task: str = "classification",
    label: str = "y",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    validation: dict[str, Any] | None = None,
    champion: str | None = None,
    fmt: str = "csv",
    tier: str = "medium",
) -> tuple[Path, str]:
    """Write data, models and ``specs/t/m.yaml``; returns (root, spec file relative to root)."""
    root.mkdir(parents=True, exist_ok=True)
    data = root / "artifacts" / "data"
    data.mkdir(parents=True, exist_ok=True)
    refs = {}
    for name, frame in (("reference", ref), ("evaluation", ev)):
        path = data / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        refs[name] = {"uri": path.relative_to(root).as_posix(), "sha256": sha(path)}
    versions = []
    for vid, est in models.items():
        path = root / "artifacts" / "models" / vid / "model.joblib"
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(est, path)
        versions.append({"id": vid, "runtime": "mlserver_sklearn.SKLearnModel",
                         "artifact": {"uri": path.relative_to(root).as_posix(), "sha256": sha(path)}})
    if inputs is None:
        inputs = [{"name": c, "type": "float"} for c in FEATURES]
        inputs.insert(0, {"name": "group", "type": "category", "categories": [0, 1], "sensitive": True,
                          "modelInput": False})
    if outputs is None:
        outputs = [{"name": label, "type": "integer", "categories": [0, 1]}] if task == "classification" else [
            {"name": label, "type": "float"}]
    ids = list(models)
    spec = {
        "apiVersion": "govops/v1", "kind": "Model",
        "metadata": {"name": "m", "tenant": "t", "owners": ["someone"]},
        "spec": {
            "tier": tier, "task": task,
            "interface": {"inputs": inputs, "outputs": outputs},
            "versions": versions,
            "deployment": {"champion": champion or ids[0]},
            "validation": {"referenceData": refs["reference"], "evaluationData": refs["evaluation"],
                           "label": label, **(validation or {})},
        },
    }
    spec_file = root / "specs" / "t" / "m.yaml"
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    spec_file.write_text(json.dumps(spec, indent=1))
    return root, "specs/t/m.yaml"


def metric(result: Any, name: str, scope: str = "overall") -> Any:
    """The metric called ``name`` at ``scope`` (a result object or document)."""
    doc = result.to_json() if hasattr(result, "to_json") else result
    found = [m for m in doc["metrics"] if m["name"] == name and m["scope"] == scope]
    assert found, f"no metric {name} at {scope}: {[(m['name'], m['scope']) for m in doc['metrics']]}"
    return found[0]
