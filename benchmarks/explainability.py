"""The explainability check (30 features, 10,000 evaluation rows) vs scikit-learn's permutation_importance alone.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/explainability.py [--rows N] [--features K] [--repeats R]

``OMP_NUM_THREADS=1`` (the prediction worker inherits it) gives both sides one thread: with
OpenMP's default of one thread per core, the in-process baseline's timing swings by several
times on a busy machine (threads spinning for descheduled siblings), which says nothing about
either side.

Same run, same data, same model (a HistGradientBoostingClassifier fitted here and pinned by
digest in a generated spec):
  * baseline: ``sklearn.inspection.permutation_importance`` on the model loaded in this
    process (n_repeats=5, random_state=0, n_jobs=1), the primary scorer (accuracy);
  * explainability check: the whole ``explainability`` check through
    ``runners.runner.run_check``: read and sha256-verify the data and the artifact, start the
    sandboxed prediction worker, permutation importance through it, partial dependence of the
    top 3 features (20 grid points each, brute force), accuracy per slice (one column, 4
    values), inline SVG charts, the result document.
Each is timed ``--repeats`` times and the best is reported; the ratio is check / baseline
(the issue asks for at most 3x). The check's importances are asserted equal to the baseline's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = 0


def build(folder: Path, rows: int, features: int) -> tuple[str, object, object, object]:
    """Data, a fitted model and a spec pinning both; returns (spec file, model, x, y)."""
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(SEED)
    names = [f"f{i:02d}" for i in range(features)]

    def table(n: int) -> pd.DataFrame:
        x = rng.normal(size=(n, features))
        score = x[:, :5] @ np.array([1.5, -1.0, 0.8, 0.5, 0.3]) + 0.2 * x[:, 5:10].sum(axis=1)
        frame = pd.DataFrame(x, columns=names)
        frame["region"] = rng.integers(0, 4, n)
        frame["y"] = (score + rng.normal(scale=0.7, size=n) > 0).astype(int)
        return frame

    ref, ev = table(rows), table(rows)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=SEED).fit(ref[names].to_numpy(), ref["y"])
    data = folder / "artifacts"
    data.mkdir(parents=True)
    ref.to_csv(data / "reference.csv", index=False)
    ev.to_csv(data / "evaluation.csv", index=False)
    joblib.dump(model, data / "model.joblib")

    def pin(name: str) -> dict[str, str]:
        return {"uri": f"artifacts/{name}", "sha256": hashlib.sha256((data / name).read_bytes()).hexdigest()}

    inputs = [{"name": n, "type": "float"} for n in names]
    inputs.append({"name": "region", "type": "category", "categories": [0, 1, 2, 3], "modelInput": False})
    spec = {
        "apiVersion": "govops/v1", "kind": "Model",
        "metadata": {"name": "bench", "tenant": "perf", "owners": ["someone"]},
        "spec": {"tier": "medium", "task": "classification",
                 "interface": {"inputs": inputs, "outputs": [{"name": "y", "type": "integer", "categories": [0, 1]}]},
                 "versions": [{"id": "1.0.0", "runtime": "mlserver_sklearn.SKLearnModel",
                               "artifact": pin("model.joblib")}],
                 "deployment": {"champion": "1.0.0"},
                 "validation": {"referenceData": pin("reference.csv"), "evaluationData": pin("evaluation.csv"),
                                "label": "y", "sliceColumns": ["region"]}},
    }
    (folder / "specs").mkdir()
    (folder / "specs" / "bench.yaml").write_text(json.dumps(spec))
    return "specs/bench.yaml", model, ev[names].to_numpy(dtype=float), ev["y"].to_numpy()


def main() -> None:
    """Time both and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    from sklearn.inspection import permutation_importance

    from runners.checks.explainability import N_REPEATS
    from runners.runner import run_check

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec_file, model, x, y = build(root, args.rows, args.features)
        base_times, check_times = [], []
        baseline = None
        result = None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            baseline = permutation_importance(model, x, y, scoring="accuracy", n_repeats=N_REPEATS,
                                              random_state=SEED, n_jobs=1)
            base_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = run_check(root, "explainability", spec_file=spec_file, version="1.0.0", thresholds={},
                               cache_dir=None)
            check_times.append(time.perf_counter() - t0)
        assert result is not None and baseline is not None
        assert result.status == "pass", result.summary
        got = np.array([m.value for m in result.metrics if m.name == "permutation_importance"])
        assert np.array_equal(got, baseline.importances_mean), "the check's importances differ from scikit-learn's"
        out = {
            "rows": args.rows, "features": args.features, "n_repeats": N_REPEATS,
            "sklearn_permutation_importance_s": round(min(base_times), 3),
            "explainability_check_s": round(min(check_times), 3),
            "ratio": round(min(check_times) / min(base_times), 2),
            "equal_to_sklearn": True,
        }
        print(json.dumps(out))


if __name__ == "__main__":
    main()
