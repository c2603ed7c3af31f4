"""The example models: real small scikit-learn models on datasets scikit-learn ships.

``make artifacts`` (``python -m engine.examples build``) trains them reproducibly
(fixed seeds, fixed splits), writes models and data under ``artifacts/``, and re-pins
every sha256 (and the claimed metrics) in ``specs/`` so the digests always match the
bytes. Nothing is downloaded: breast cancer, diabetes, wine, digits and iris are
bundled with scikit-learn. ``govops init`` reuses ``build_iris`` for its example.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.spec.pinning import sha256_file

SEED = 20261123


@dataclass(frozen=True)
class Dataset:
    """A table with its label column, split reproducibly into reference and evaluation."""

    name: str
    frame: pd.DataFrame
    label: str


@dataclass(frozen=True)
class ExampleModel:
    """One example model id and the estimators of its versions."""

    model_id: str
    dataset: str
    label: str
    features: list[str]
    task: str
    versions: dict[str, Callable[[], Any]]


def _snake(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_")


def datasets() -> dict[str, Dataset]:
    """The bundled datasets, with tidy snake_case column names."""
    from sklearn import datasets as skd

    out: dict[str, Dataset] = {}
    diab = skd.load_diabetes(as_frame=True, scaled=False)
    df = diab.frame.rename(columns={"target": "progression"})
    df["sex"] = df["sex"].astype(int)
    df["age"] = df["age"].astype(int)
    df["readmit"] = (df["progression"] > 140).astype(int)
    out["diabetes"] = Dataset("diabetes", df, "progression")
    bc = skd.load_breast_cancer(as_frame=True)
    df = bc.frame.rename(columns={c: _snake(c) for c in bc.frame.columns})
    df = df.rename(columns={"target": "benign"})
    out["breast_cancer"] = Dataset("breast_cancer", df, "benign")
    wine = skd.load_wine(as_frame=True)
    df = wine.frame.rename(columns={c: _snake(c) for c in wine.frame.columns}).rename(columns={"target": "cultivar"})
    out["wine"] = Dataset("wine", df, "cultivar")
    digits = skd.load_digits(as_frame=True)
    df = digits.frame.rename(columns={c: c.replace("pixel_", "px_") for c in digits.frame.columns})
    df = df.rename(columns={"target": "digit"})
    out["digits"] = Dataset("digits", df, "digit")
    iris = skd.load_iris(as_frame=True)
    df = iris.frame.rename(columns={c: _snake(c).replace("_cm", "") for c in iris.frame.columns})
    df = df.rename(columns={"target": "species"})
    out["iris"] = Dataset("iris", df, "species")
    return out


def _lr(c: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))


def _gbc() -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=60, max_depth=2, random_state=SEED % 2**31)


def _rf() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=60, max_depth=6, random_state=SEED % 2**31, n_jobs=1)


def _ridge() -> Any:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))


def _gbr() -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=80, max_depth=2, random_state=SEED % 2**31)


def _tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=3, random_state=SEED % 2**31)


DIABETES_FEATURES = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def example_models() -> list[ExampleModel]:
    """The models behind ``specs/``; features are in interface order (what the model is fed)."""
    ds = datasets()
    bc_features = [c for c in ds["breast_cancer"].frame.columns if c != "benign"]
    wine_features = [c for c in ds["wine"].frame.columns if c != "cultivar"]
    digit_features = [c for c in ds["digits"].frame.columns if c != "digit"]
    iris_features = [c for c in ds["iris"].frame.columns if c != "species"]
    return [
        ExampleModel(
            "clinical/readmission-triage",
            "diabetes",
            "readmit",
            DIABETES_FEATURES,
            "classification",
            {"1.0.0": lambda: _lr(1.0), "1.1.0": lambda: _lr(0.3), "2.0.0": _gbc},
        ),
        ExampleModel(
            "clinical/disease-progression",
            "diabetes",
            "progression",
            ["sex", *DIABETES_FEATURES],
            "regression",
            {"1.0.0": _ridge, "1.1.0": _gbr},
        ),
        ExampleModel(
            "oncology/tumor-malignancy",
            "breast_cancer",
            "benign",
            bc_features,
            "classification",
            {"1.0.0": lambda: _lr(1.0), "1.1.0": _rf},
        ),
        ExampleModel(
            "beverages/wine-cultivar",
            "wine",
            "cultivar",
            wine_features,
            "classification",
            {"1.0.0": lambda: _lr(1.0)},
        ),
        ExampleModel(
            "lab/digit-reader",
            "digits",
            "digit",
            digit_features,
            "classification",
            {"1.0.0": lambda: _lr(0.1)},
        ),
        ExampleModel(
            "lab/iris-species",
            "iris",
            "species",
            iris_features,
            "classification",
            {"1.0.0": _tree, "1.1.0": lambda: _lr(1.0)},
        ),
    ]


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reproducible 70/30 split into reference (training) and evaluation data."""
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(frame))
    cut = int(len(frame) * 0.7)
    return frame.iloc[np.sort(order[:cut])], frame.iloc[np.sort(order[cut:])]


def write_data(root: Path) -> dict[str, Path]:
    """Write reference/evaluation CSVs per dataset; returns written paths by relative name."""
    written: dict[str, Path] = {}
    for name, ds in datasets().items():
        ref, ev = split(ds.frame)
        folder = root / "artifacts" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        for part, frame in (("reference", ref), ("evaluation", ev)):
            path = folder / f"{part}.csv"
            frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
            written[path.relative_to(root).as_posix()] = path
    return written


def train(root: Path, model: ExampleModel) -> dict[str, tuple[Path, dict[str, float]]]:
    """Train each version on the reference split; returns artifact path and claimed metrics."""
    import joblib
    from sklearn import metrics

    ref = pd.read_csv(root / "artifacts" / "data" / model.dataset / "reference.csv")
    ev = pd.read_csv(root / "artifacts" / "data" / model.dataset / "evaluation.csv")
    x, y = ref[model.features].to_numpy(dtype=float), ref[model.label].to_numpy()
    xe, ye = ev[model.features].to_numpy(dtype=float), ev[model.label].to_numpy()
    out: dict[str, tuple[Path, dict[str, float]]] = {}
    for version, make in model.versions.items():
        est = make()
        est.fit(x, y)
        folder = root / "artifacts" / "models" / model.model_id / version
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.joblib"
        joblib.dump(est, path, compress=3)
        pred = est.predict(xe)
        if model.task == "classification":
            claimed = {
                "accuracy": round(float(metrics.accuracy_score(ye, pred)), 4),
                "f1": round(float(metrics.f1_score(ye, pred, average="macro")), 4),
            }
            if len(np.unique(y)) == 2:
                claimed["roc_auc"] = round(float(metrics.roc_auc_score(ye, est.predict_proba(xe)[:, 1])), 4)
        else:
            claimed = {
                "rmse": round(float(np.sqrt(metrics.mean_squared_error(ye, pred))), 3),
                "r2": round(float(metrics.r2_score(ye, pred)), 4),
            }
        out[version] = (path, claimed)
    return out


def build(root: Path, *, pin: bool = True) -> dict[str, str]:
    """Build all example data and models under ``root``; re-pin digests in its specs."""
    digests: dict[str, str] = {}
    for rel, path in write_data(root).items():
        digests[rel] = sha256_file(path)
    claimed: dict[tuple[str, str], dict[str, float]] = {}
    for model in example_models():
        for version, (path, metrics_) in train(root, model).items():
            digests[path.relative_to(root).as_posix()] = sha256_file(path)
            claimed[(model.model_id, version)] = metrics_
    if pin:
        pin_specs(root, digests, claimed)
    return digests


def pin_specs(root: Path, digests: dict[str, str], claimed: dict[tuple[str, str], dict[str, float]]) -> None:
    """Rewrite sha256 (and claimed metrics) in every spec that refers to a built file.

    Uses ruamel's round-trip mode so comments and layout survive.
    """
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    for spec_path in sorted((root / "specs").rglob("*.yaml")):
        data = yaml.load(spec_path.read_text())
        changed = _pin(data, digests)
        model_id = f"{data['metadata']['tenant']}/{data['metadata']['name']}"
        for version in data["spec"]["versions"]:
            metrics_ = claimed.get((model_id, str(version["id"])))
            if metrics_ and dict(version.get("metrics", {})) != metrics_:
                version["metrics"] = metrics_
                changed = True
        if changed:
            with spec_path.open("w") as fh:
                yaml.dump(data, fh)


def _pin(node: Any, digests: dict[str, str]) -> bool:
    changed = False
    if isinstance(node, dict):
        uri = node.get("uri")
        if isinstance(uri, str) and uri in digests and node.get("sha256") != digests[uri]:
            node["sha256"] = digests[uri]
            changed = True
        for value in node.values():
            changed |= _pin(value, digests)
    elif isinstance(node, list):
        for item in node:
            changed |= _pin(item, digests)
    return changed


def build_iris(root: Path) -> dict[str, str]:
    """The one example ``govops init`` scaffolds: iris data and a decision tree."""
    import joblib

    ds = datasets()["iris"]
    ref, ev = split(ds.frame)
    folder = root / "artifacts" / "data" / "iris"
    folder.mkdir(parents=True, exist_ok=True)
    ref.to_csv(folder / "reference.csv", index=False, float_format="%.6g", lineterminator="\n")
    ev.to_csv(folder / "evaluation.csv", index=False, float_format="%.6g", lineterminator="\n")
    model_dir = root / "artifacts" / "models" / "example" / "iris-species" / "1.0.0"
    model_dir.mkdir(parents=True, exist_ok=True)
    features = [c for c in ds.frame.columns if c != "species"]
    est = _tree().fit(ref[features].to_numpy(dtype=float), ref["species"].to_numpy())
    joblib.dump(est, model_dir / "model.joblib", compress=3)
    return {
        "reference": sha256_file(folder / "reference.csv"),
        "evaluation": sha256_file(folder / "evaluation.csv"),
        "model": sha256_file(model_dir / "model.joblib"),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.examples build [--root DIR] [--no-pin]``."""
    parser = argparse.ArgumentParser(prog="python -m engine.examples", description=__doc__)
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--root", type=Path, default=Path("."))
    parser.add_argument("--no-pin", action="store_true", help="do not rewrite digests in specs/")
    args = parser.parse_args(argv)
    digests = build(args.root, pin=not args.no_pin)
    for rel, digest in sorted(digests.items()):
        print(f"{digest}  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
