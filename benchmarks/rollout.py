"""Rollout benchmark: time from `govops rollout` start to all versions serving, vs MLServer's own start-up.

For 1, 10 and 50 model versions (one champion each, real scikit-learn artifacts) in a
fresh git repository: `govops rollout` with no server running (it starts MLServer,
stages and verifies every artifact, loads, health-checks each version with a smoke
inference, commits, records a git note), then a second `govops rollout` (nothing to
do). The floor: MLServer started on the same materialised repository with
load_models_at_startup, until every version is READY. Then a champion switch under a
steady request load: its duration and the failed requests.

Run: .venv/bin/python benchmarks/rollout.py [--sizes 1,10,50] [--clients 4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from engine.mlserver.local_serving import ServingPaths, read_server  # noqa: E402
from engine.mlserver.process import MLServerProcess  # noqa: E402
from engine.rollout.serving import stop_server  # noqa: E402

GOVOPS = [str(Path(sys.executable).parent / "govops")]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "bench",
       "GIT_COMMITTER_EMAIL": "b@e", "GOVOPS_ROLLOUT_DRAIN_S": "1.0"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True)


def make_repo(root: Path, n: int, deployment: str = "    champion: 1.0.0\n") -> Path:
    root.mkdir(parents=True)
    shutil.copy(PROJECT / "govops.yaml", root / "govops.yaml")
    (root / ".gitignore").write_text(".govops/\n")
    shutil.copytree(PROJECT / "artifacts/data/iris", root / "artifacts/data/iris")
    shutil.copytree(PROJECT / "artifacts/models/lab/iris-species", root / "artifacts/models/lab/iris-species")
    template = (PROJECT / "specs/lab/iris-species.yaml").read_text()
    template = re.sub(r"  deployment:\n(?:    .*\n)+", "  deployment:\n" + deployment, template)
    (root / "specs/lab").mkdir(parents=True)
    for i in range(n):
        name = f"bench-{i:03d}"
        (root / f"specs/lab/{name}.yaml").write_text(template.replace("name: iris-species", f"name: {name}"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{n} models")
    return root


def rollout(repo: Path) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([*GOVOPS, "-C", str(repo), "rollout"], env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"rollout failed: {proc.stderr}")
    return elapsed


def all_ready(repo: Path) -> int:
    out = subprocess.run([*GOVOPS, "-C", str(repo), "status", "--format", "json"], env=ENV, capture_output=True,
                         text=True, check=True).stdout
    return sum(v["ready"] for v in json.loads(out)["versions"])


def bench_size(work: Path, n: int) -> dict[str, float]:
    repo = make_repo(work / f"repo-{n}", n)
    paths = ServingPaths.for_repo(repo)
    cold = rollout(repo)  # starts MLServer too
    assert all_ready(repo) == n, "not every version serves"
    stop_server(paths)
    # floor: MLServer itself starting on the same materialised repository
    t0 = time.perf_counter()
    with MLServerProcess(paths.repository, load_models_at_startup=True):
        floor = time.perf_counter() - t0
    # rollout onto the running MLServer again: idempotent, nothing to do
    subprocess.run([*GOVOPS, "-C", str(repo), "serve"], env=ENV, check=True, capture_output=True)
    again = rollout(repo)
    assert all_ready(repo) == n
    stop_server(paths)
    return {"n": n, "cold": cold, "noop": again, "floor": floor}


def bench_switch(work: Path, clients: int) -> dict[str, float]:
    repo = make_repo(work / "repo-switch", 1)
    rollout(repo)
    paths = ServingPaths.for_repo(repo)
    url = read_server(paths).url
    body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}
    stop = threading.Event()
    codes: list[int] = []

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            roles = json.loads(paths.state.read_text())["models"]["lab/bench-000"]["versions"]
            champion = next(v for v, r in roles.items() if r["role"] == "champion")
            try:
                r = session.post(f"{url}/v2/models/lab--bench-000/versions/{champion}/infer", json=body, timeout=10)
                codes.append(r.status_code)
            except requests.RequestException:
                codes.append(0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    before = len(codes)
    spec = repo / "specs/lab/bench-000.yaml"
    spec.write_text(spec.read_text().replace("    champion: 1.0.0\n", "    champion: 1.1.0\n"))
    git(repo, "commit", "-qam", "promote 1.1.0")
    t0 = time.perf_counter()
    switch = rollout(repo)
    during = len(codes) - before
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    stop_server(paths)
    steady_rps = before / 2.0
    return {"switch": switch, "requests": len(codes), "during": during, "failed": sum(c != 200 for c in codes),
            "rps": steady_rps, "t0": t0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govops-bench-rollout-") as tmp:
        work = Path(tmp)
        rows = [bench_size(work, int(n)) for n in args.sizes.split(",")]
        switch = bench_switch(work, args.clients)
    print(f"machine: {os.cpu_count()} cores; MLServer 1.7, parallel_workers=0; times are wall-clock seconds")
    print()
    print("| versions | `govops rollout` to all serving (starts MLServer) | MLServer start-up, same models (floor) "
          "| rollout / floor | second rollout (no-op) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']} | {r['cold']:.2f} | {r['floor']:.2f} | {r['cold'] / r['floor']:.2f}x | {r['noop']:.2f} |")
    print()
    print(f"champion switch under load ({args.clients} clients, ~{switch['rps']:.0f} req/s steady): "
          f"`govops rollout` took {switch['switch']:.2f} s (incl. 1.0 s drain); {switch['during']} requests "
          f"during the switch, {switch['requests']} in total, failed: {switch['failed']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
