"""Benchmark: `govops plan` between two commits 1,000 commits apart in a repository of 5,000 specs.

The repository is built with `git fast-import` (seconds, not minutes): one commit adding
5,000 specs over 4 tenants and 3 tiers, then 1,000 commits each changing one spec chosen at
random (a threshold, the champion, a canary weight, or a new version). The baseline is
`git diff --name-status` alone over the same range: the floor any Git-based plan pays.

    .venv/bin/python benchmarks/plan.py [--specs 5000] [--commits 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

TENANTS = ["clinical", "oncology", "beverages", "lab"]
TIERS = ["low", "medium", "high"]


def spec_text(tenant: str, name: str, tier: str, *, versions: int = 2, champion: int = 1,
              weight: int = 10, roc: float = 0.8) -> str:
    vs = "".join(
        f"    - id: 1.{v}.0\n"
        f"      description: Candidate {v}.\n"
        f"      artifact:\n        uri: s3://models/{tenant}/{name}/1.{v}.0/model.joblib\n"
        f"      runtime: mlserver_sklearn.SKLearnModel\n"
        f"      metrics: {{accuracy: 0.8{v % 10}, roc_auc: 0.8{v % 10}}}\n"
        for v in range(versions)
    )
    challenger = versions - 1 if versions - 1 != champion else 0
    return (
        "apiVersion: govops/v1\nkind: Model\n"
        f"metadata:\n  name: {name}\n  tenant: {tenant}\n  owners: [owner.{tenant}]\n"
        f"  description: Benchmark model {name}.\n  tags: [bench]\n"
        f"spec:\n  tier: {tier}\n  task: classification\n"
        "  interface:\n    inputs:\n"
        "      - {name: age, type: float, min: 0, max: 120}\n"
        "      - {name: income, type: float, min: 0}\n"
        "      - {name: region, type: category, categories: [north, south, east, west]}\n"
        "      - {name: score, type: float, min: 0, max: 1}\n"
        "    outputs:\n      - {name: label, type: integer, categories: [0, 1]}\n"
        f"  versions:\n{vs}"
        f"  deployment:\n    champion: 1.{champion}.0\n"
        f"    challengers:\n      - {{version: 1.{challenger}.0, mode: canary, weight: {weight}}}\n"
        "  validation:\n"
        "    referenceData: {uri: s3://data/ref.csv}\n"
        "    evaluationData: {uri: s3://data/eval.csv}\n"
        "    label: label\n"
        "    checks:\n"
        f"      performance:\n        thresholds: {{min_roc_auc: {roc}}}\n"
    )


def build_repo(path: Path, n_specs: int, n_commits: int, seed: int = 7) -> tuple[str, str, int]:
    """Create the repository; returns (base sha, head sha, distinct specs changed)."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    state = {}
    for i in range(n_specs):
        tenant = TENANTS[i % len(TENANTS)]
        state[i] = {"tenant": tenant, "name": f"model-{i:05d}", "tier": TIERS[i % len(TIERS)],
                    "versions": 2, "champion": 1, "weight": 10, "roc": 0.8}
    out = bytearray()

    def data(b: bytes) -> None:
        out.extend(f"data {len(b)}\n".encode())
        out.extend(b)
        out.extend(b"\n")

    def path_of(i: int) -> str:
        return f"specs/{state[i]['tenant']}/{state[i]['name']}.yaml"

    ts = 1_760_000_000
    out.extend(f"commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> {ts} +0000\n".encode())
    data(b"5,000 models")
    out.extend(b"M 100644 inline govops.yaml\n")
    data((PROJECT / "govops.yaml").read_bytes())
    for i in range(n_specs):
        out.extend(f"M 100644 inline {path_of(i)}\n".encode())
        data(spec_text(**state[i]).encode())
    changed = set()
    for c in range(n_commits):
        i = rng.randrange(n_specs)
        changed.add(i)
        s = state[i]
        kind = rng.choice(["roc", "champion", "weight", "version"])
        if kind == "roc":
            s["roc"] = round(s["roc"] + rng.choice([-0.01, 0.01]), 2)
        elif kind == "champion":
            s["champion"] = (s["champion"] + 1) % s["versions"]
        elif kind == "weight":
            s["weight"] = rng.choice([5, 10, 20, 25])
        else:
            s["versions"] += 1
        out.extend(f"commit refs/heads/main\nmark :{c + 2}\n"
                   f"committer Bench <bench@example.com> {ts + c + 1} +0000\n".encode())
        data(f"change {s['name']}: {kind}".encode())
        out.extend(f"from :{c + 1}\nM 100644 inline {path_of(i)}\n".encode())
        data(spec_text(**s).encode())
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(out), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)
    base = subprocess.run(["git", "rev-parse", f"main~{n_commits}"], cwd=path, capture_output=True, text=True,
                          check=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "main"], cwd=path, capture_output=True, text=True,
                          check=True).stdout.strip()
    return base, head, len(changed)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", type=int, default=5000)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from engine.change.gitread import plan_between

    tmp = Path(tempfile.mkdtemp(prefix="govops-bench-plan-"))
    try:
        t0 = time.perf_counter()
        base, head, n_changed = build_repo(tmp / "repo", args.specs, args.commits)
        built = time.perf_counter() - t0
        root = tmp / "repo"
        floor = best(lambda: subprocess.run(
            ["git", "diff", "--name-status", f"{base}...{head}", "--", "specs", "govops.yaml", "policies"],
            cwd=root, capture_output=True, check=True), args.repeat)
        plan_holder = {}

        def plan() -> None:
            plan_holder["p"] = plan_between(root, base, head)

        in_proc = best(plan, args.repeat)
        p = plan_holder["p"]
        # some specs were changed and changed back: git (and the plan) see only the net difference
        assert len(p.entries) == len(p.changed_files) <= n_changed, (len(p.entries), len(p.changed_files))
        n_changed = len(p.changed_files)
        near = subprocess.run(["git", "rev-parse", "main~10"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        small = best(lambda: plan_between(root, near, head), args.repeat)
        small_n = len(plan_between(root, near, head).entries)
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        cli = best(lambda: subprocess.run(
            [sys.executable, "-m", "engine.cli", "-C", str(root), "plan", "--base", base, "--head", head,
             "--format", "json"], capture_output=True, check=True, env=env), args.repeat)
        print(f"repository: {args.specs} specs, {args.commits} commits between base and head, "
              f"{n_changed} specs differ (built with git fast-import in {built:.1f} s); "
              f"{os.cpu_count()} cores")
        print(f"{'measure':48} {'seconds':>8} {'x floor':>8}")
        for name, t in (
            ("git diff --name-status base...head (floor)", floor),
            ("plan_between (in process)", in_proc),
            ("govops plan --format json (CLI, new process)", cli),
            (f"plan_between 10 commits apart ({small_n} specs differ)", small),
        ):
            print(f"{name:48} {t:8.3f} {t / floor:8.1f}")
        load = os.getloadavg()[0]
        print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores")
        print(f"per changed spec (in process): {in_proc / max(n_changed, 1) * 1000:.2f} ms "
              f"(both sides parsed and validated); target < 2 s: {'met' if cli < 2 else 'NOT met'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
