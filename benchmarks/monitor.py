"""Benchmark: `govops monitor --once` over 1,000,000 logged predictions (10 models x 100,000 rows, 20 features)
vs recomputing drift from the raw reference data without profiles.

Run: .venv/bin/python benchmarks/monitor.py [--rows-per-model N] [--models M] [--reference-rows R]
`govops monitor --once` is timed end to end as a user runs it (a subprocess, start-up included),
after the reference profiles exist (they are built once per version, at validation time; the
one-off build is timed separately). The baseline reads the same windows with the same reader,
then, per model, rereads the raw reference table, re-predicts it with the model and computes
exact KS (scipy.stats.ks_2samp) and PSI (the drift check's) per feature and for the prediction.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.gateway.predlog import BASE_COLUMNS  # noqa: E402

FEATURES = [f"f{i:02d}" for i in range(20)]
GOVOPS = [sys.executable, "-m", "engine.cli"]

GOVERNANCE = """apiVersion: govops/v1
kind: Governance
tiers:
  low: {requiredChecks: [performance]}
tenants:
  bench: {paths: [specs/bench/]}
allowedRuntimes: [mlserver_sklearn.SKLearnModel]
"""


def spec_text(name: str, model_sha: str) -> str:
    inputs = "\n".join(f"      - {{name: {f}, type: float, min: -6, max: 6}}" for f in FEATURES)
    return f"""apiVersion: govops/v1
kind: Model
metadata: {{name: {name}, tenant: bench, owners: [bench]}}
spec:
  tier: low
  task: classification
  interface:
    inputs:
{inputs}
    outputs:
      - {{name: y, type: integer, categories: [0, 1]}}
  versions:
    - id: 1.0.0
      artifact: {{uri: artifacts/model.joblib, sha256: {model_sha}}}
      runtime: mlserver_sklearn.SKLearnModel
  deployment: {{champion: 1.0.0}}
  validation:
    referenceData: {{uri: artifacts/reference.parquet}}
    evaluationData: {{uri: artifacts/reference.parquet}}
    label: y
    positiveClass: 1
  monitoring:
    window: 1h
    thresholds:
      drift: {{max_psi: 0.2, max_ks: 0.1, max_drifted_share: 0.3}}
      anomaly: {{max_out_of_range_rate: 0.02, max_missing_rate: 0.01, max_outlier_rate: 0.05}}
      operational: {{max_latency_p99_ms: 250, max_error_rate: 0.01}}
      kpis:
        - {{name: positive_rate, expression: "mean(prediction == 1)", min: 0.2, max: 0.8}}
    health: {{minimum: 0.7}}
"""


def build(root: Path, models: int, rows: int, ref_rows: int, now_ns: int) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    (root / "artifacts").mkdir(parents=True)
    x = rng.normal(size=(ref_rows, len(FEATURES)))
    w = rng.normal(size=len(FEATURES))
    y = (x @ w + rng.normal(size=ref_rows) > 0).astype(int)
    ref = pd.DataFrame(x, columns=FEATURES)
    ref["y"] = y
    ref.to_parquet(root / "artifacts" / "reference.parquet", index=False)
    model = LogisticRegression(max_iter=200).fit(x[:20000], y[:20000])
    joblib.dump(model, root / "artifacts" / "model.joblib")
    sha = hashlib.sha256((root / "artifacts" / "model.joblib").read_bytes()).hexdigest()
    (root / "govops.yaml").write_text(GOVERNANCE)
    (root / "specs" / "bench").mkdir(parents=True)
    day = time.strftime("%Y-%m-%d", time.gmtime(now_ns / 1e9))
    part_rows = 5000  # the gateway's default flush size
    for m in range(models):
        name = f"model-{m:02d}"
        (root / "specs" / "bench" / f"{name}.yaml").write_text(spec_text(name, sha))
        shift = 0.05 * m  # some models drift more than others
        xs = rng.normal(loc=shift, size=(rows, len(FEATURES)))
        proba = model.predict_proba(xs)[:, 1]
        folder = root / ".govops" / "logs" / "predictions" / f"model=bench--{name}" / f"date={day}"
        folder.mkdir(parents=True)
        ts = now_ns - 3000 * 10**9 + np.arange(rows, dtype=np.int64) * (2900 * 10**9 // rows)
        for p, start in enumerate(range(0, rows, part_rows)):
            sl = slice(start, min(start + part_rows, rows))
            n = sl.stop - sl.start
            base = {"request_id": pa.array([f"r{m}-{i}" for i in range(sl.start, sl.stop)]),
                    "row": pa.array(np.zeros(n, np.int32)), "ts_ns": pa.array(ts[sl]),
                    "model": pa.array([f"bench/{name}"] * n), "version": pa.array(["1.0.0"] * n),
                    "route": pa.array(["champion"] * n), "latency_ms": pa.array(rng.gamma(4, 5, n)),
                    "status": pa.array(["ok"] * n), "error": pa.nulls(n, pa.string()),
                    "request_key": pa.nulls(n, pa.string())}
            arrays = [base[c].cast(t) for c, t in BASE_COLUMNS]
            names = [c for c, _ in BASE_COLUMNS]
            for j, f in enumerate(FEATURES):
                arrays.append(pa.array(xs[sl, j]))
                names.append(f"in.{f}")
            arrays += [pa.array((proba[sl] > 0.5).astype(float)), pa.array(proba[sl])]
            names += ["prediction", "proba"]
            pq.write_table(pa.Table.from_arrays(arrays, names=names), folder / f"part-{now_ns}-{p:06d}.parquet")


def baseline(root: Path, models: int, now_ns: int) -> float:
    """Per model: reread the reference, re-predict it, exact KS + PSI per feature and for the prediction."""
    from scipy.stats import ks_2samp

    from engine.monitoring.logread import read_predictions
    from engine.statistics.drift import psi_sorted

    t = time.perf_counter()
    for m in range(models):
        table = read_predictions(root / ".govops" / "logs", f"bench/model-{m:02d}", now_ns - 3600 * 10**9, now_ns)
        assert table is not None
        ref = pd.read_parquet(root / "artifacts" / "reference.parquet")
        model = joblib.load(root / "artifacts" / "model.joblib")
        ref_pred = model.predict_proba(ref[FEATURES].to_numpy())[:, 1]
        for f in FEATURES:
            r = np.sort(ref[f].to_numpy())
            e = np.sort(table[f"in.{f}"].to_numpy())
            ks_2samp(r, e)
            psi_sorted(r, e)
        e = np.sort(table["proba"].to_numpy())
        ks_2samp(np.sort(ref_pred), e)
        psi_sorted(np.sort(ref_pred), e)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows-per-model", type=int, default=100_000)
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--reference-rows", type=int, default=200_000)
    args = ap.parse_args()
    now_ns = time.time_ns()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        t = time.perf_counter()
        build(root, args.models, args.rows_per_model, args.reference_rows, now_ns)
        gen = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([*GOVOPS, "-C", str(root), "profile"], check=True, capture_output=True, env=env)
        prof = time.perf_counter() - t
        size = sum(p.stat().st_size for p in (root / ".govops" / "profiles").rglob("*.json")) // args.models
        times, cpus = [], []
        for _ in range(2):
            t = time.perf_counter()
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            res = subprocess.run([*GOVOPS, "-C", str(root), "monitor", "--once", "--dry-run"], capture_output=True,
                                 text=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(time.perf_counter() - t)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if res.returncode not in (0, 1):
                raise SystemExit(f"monitor failed ({res.returncode}):\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
        mon, mon_cpu = min(times), min(cpus)
        c = time.process_time()
        base = baseline(root, args.models, now_ns)
        base_cpu = time.process_time() - c
    total = args.models * args.rows_per_model
    print(f"# {total:,} logged predictions, {args.models} models x {args.rows_per_model:,} rows, {len(FEATURES)} "
          f"features; reference {args.reference_rows:,} rows; {os.cpu_count()} CPU(s)")
    print(res.stdout.strip().splitlines()[0] if res.stdout.strip() else "")
    load = os.getloadavg()[0]
    print(f"{'what':58s} {'wall s':>8s} {'CPU s':>8s} {'ratio':>7s}")
    print(f"{'govops monitor --once (subprocess, profiles exist)':58s} {mon:8.2f} {mon_cpu:8.2f} {1.0:7.2f}")
    print(f"{'baseline: reread reference + re-predict + exact KS/PSI':58s} {base:8.2f} {base_cpu:8.2f} "
          f"{base / mon:7.2f}")
    print(f"{f'one-off: govops profile ({args.models} versions, at validation time)':58s} {prof:8.2f} {'':8s} "
          f"{prof / mon:7.2f}")
    print(f"{'(generating the log and reference data)':58s} {gen:8.2f}")
    print(f"load average during the run: {load:.1f} (wall times are inflated when other work shares the cores)")
    print(f"profile size: {size / 1024:.1f} KiB per version; target: monitor < 10 s on 2 cores: "
          f"{'met' if mon < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
