"""Drift check on 1,000,000 rows x 20 numeric features vs scipy.stats.ks_2samp column by column.

Run: .venv/bin/python benchmarks/drift.py [--rows N] [--features K] [--scipy-columns C]

Each phase runs in a fresh process (spawn), so its peak RSS is its own:
  * drift check, cold: the whole `drift` check through runners.runner.run_check (read and
    sha256-verify two Parquet files, sort and cache the reference, compute KS + p-value,
    Wasserstein and PSI for every column), empty cache;
  * drift check, warm: the same, the sorted reference read back from the cache;
  * scipy baseline: scipy.stats.ks_2samp(method="asymp") per column on C columns,
    extrapolated to all K (and wasserstein_distance likewise, for reference).
Imports (numpy, pandas, scipy, the checks) are done before timing: a worker pays them once.
Memory is reported as peak RSS minus the RSS before the phase, against the size of the
two float64 tables (rows x features x 8 bytes x 2).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = 7


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(folder: str, rows: int, features: int) -> dict[str, str]:
    import hashlib

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    cols = [f"f{i:02d}" for i in range(features)]
    ref = pd.DataFrame(rng.normal(size=(rows, features)), columns=cols)
    ev = rng.normal(size=(rows, features))
    ev[:, : features // 4] += 0.05  # a planted shift in a quarter of the columns
    ev = pd.DataFrame(ev, columns=cols)
    out = {}
    for name, frame in (("reference", ref), ("evaluation", ev)):
        path = Path(folder) / "artifacts" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    spec = {
        "apiVersion": "govops/v1", "kind": "Model",
        "metadata": {"name": "bench", "tenant": "bench", "owners": ["bench"]},
        "spec": {
            "tier": "medium", "task": "regression",
            "interface": {"inputs": [{"name": c, "type": "float"} for c in cols],
                          "outputs": [{"name": "y", "type": "float"}]},
            "versions": [{"id": "1.0.0", "runtime": "mlserver_sklearn.SKLearnModel",
                          "artifact": {"uri": "artifacts/model.joblib", "sha256": "0" * 64}}],
            "validation": {
                "referenceData": {"uri": "artifacts/reference.parquet", "sha256": out["reference"]},
                "evaluationData": {"uri": "artifacts/evaluation.parquet", "sha256": out["evaluation"]},
                "label": "y",
            },
        },
    }
    (Path(folder) / "spec.yaml").write_text(json.dumps(spec))  # JSON is YAML
    return out


def phase_check(folder: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    import scipy.stats  # noqa: F401  (imports are paid once per worker, not per check: keep them out)

    import runners.checks  # noqa: F401
    from runners.runner import run_check

    base = _rss_mb()
    t0 = time.perf_counter()
    r = run_check(Path(folder), "drift", spec_file="spec.yaml", version="1.0.0",
                  thresholds={"max_ks": 0.01, "max_psi": 0.1, "max_drifted_share": 0.5},
                  cache_dir=Path(folder) / "cache")
    dt = time.perf_counter() - t0
    q.put({"seconds": dt, "peak_mb": _peak_mb() - base, "status": r.status, "summary": r.summary,
           "error": r.error, "features": r.details.get("features", {})})


def phase_core(folder: str, q: mp.Queue) -> None:  # type: ignore[type-arg]
    import pandas as pd

    from engine.statistics.drift import numeric_drift, sorted_reference

    ref = pd.read_parquet(Path(folder) / "artifacts" / "reference.parquet")
    ev = pd.read_parquet(Path(folder) / "artifacts" / "evaluation.parquet")
    cols = list(ref.columns)
    base = _rss_mb()
    t0 = time.perf_counter()
    sorted_ref = sorted_reference({c: ref[c].to_numpy() for c in cols}, cols)
    t1 = time.perf_counter()
    numeric_drift(sorted_ref, {c: ev[c].to_numpy() for c in cols})
    t2 = time.perf_counter()
    q.put({"sort_seconds": t1 - t0, "stats_seconds": t2 - t1, "peak_mb": _peak_mb() - base})


def phase_scipy(folder: str, columns: int, q: mp.Queue) -> None:  # type: ignore[type-arg]
    import pandas as pd
    from scipy import stats

    ref = pd.read_parquet(Path(folder) / "artifacts" / "reference.parquet")
    ev = pd.read_parquet(Path(folder) / "artifacts" / "evaluation.parquet")
    base = _rss_mb()
    out = {}
    t_ks = t_w = 0.0
    for c in list(ref.columns)[:columns]:
        a, b = ref[c].to_numpy(), ev[c].to_numpy()
        t0 = time.perf_counter()
        res = stats.ks_2samp(a, b, method="asymp")
        t1 = time.perf_counter()
        w = stats.wasserstein_distance(a, b)
        t_w += time.perf_counter() - t1
        t_ks += t1 - t0
        out[c] = {"ks": float(res.statistic), "p_value": float(res.pvalue), "wasserstein": float(w)}
    q.put({"ks_seconds": t_ks, "w_seconds": t_w, "columns": columns, "peak_mb": _peak_mb() - base,
           "values": out, "total_columns": len(ref.columns)})


def run(target, *args):  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--scipy-columns", type=int, default=3)
    args = ap.parse_args()
    data_mb = args.rows * args.features * 8 * 2 / 2**20
    with tempfile.TemporaryDirectory(prefix="govops-bench-drift-") as folder:
        ctx = mp.get_context("spawn")
        p = ctx.Process(target=make_data, args=(folder, args.rows, args.features))
        p.start()
        p.join()
        cold = run(phase_check, folder)
        warm = run(phase_check, folder)
        core = run(phase_core, folder)
        base = run(phase_scipy, folder, args.scipy_columns)
    if cold["status"] == "error" or warm["status"] == "error":
        print("drift check errored:", cold["error"] or warm["error"])
        return 1
    per_col = base["ks_seconds"] / base["columns"]
    scipy_total = per_col * base["total_columns"]
    w_total = base["w_seconds"] / base["columns"] * base["total_columns"]
    worst = {"ks": 0.0, "p_value": 0.0, "wasserstein": 0.0}
    for c, v in base["values"].items():
        mine = warm["features"][c]
        for k in worst:
            worst[k] = max(worst[k], abs(mine[k] - v[k]) / (1 if k != "wasserstein" else max(abs(v[k]), 1e-300)))
    print(f"drift benchmark: {args.rows:,} rows x {args.features} numeric features, reference and evaluation "
          f"({data_mb:.0f} MB of float64), {mp.cpu_count()} CPU(s)")
    print(f"{'what':58} {'seconds':>9} {'vs scipy':>9} {'peak MB':>9} {'x data':>7}")
    rows = [
        ("govops drift check, cold cache (read+verify+sort+stats)", cold["seconds"], cold["peak_mb"]),
        ("govops drift check, warm cache (sorted reference reused)", warm["seconds"], warm["peak_mb"]),
        ("statistics only, data in memory: sort reference + stats", core["sort_seconds"] + core["stats_seconds"],
         core["peak_mb"]),
        ("statistics only, reference already sorted", core["stats_seconds"], None),
        (f"scipy ks_2samp column by column ({base['columns']} measured, x{base['total_columns']})",
         scipy_total, None),
        ("scipy wasserstein_distance column by column (extrapolated)", w_total, None),
    ]
    for what, secs, peak in rows:
        ratio = scipy_total / secs
        mem = f"{peak:9.0f} {peak / data_mb:7.2f}" if peak is not None else f"{'-':>9} {'-':>7}"
        print(f"{what:58} {secs:9.2f} {ratio:8.1f}x {mem}")
    print(f"scipy ks_2samp per column: {per_col:.2f} s; check result: {warm['status']}: {warm['summary']}")
    print(f"agreement with scipy on measured columns: |dKS| {worst['ks']:.1e}, |dp| {worst['p_value']:.1e}, "
          f"rel |dW| {worst['wasserstein']:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
