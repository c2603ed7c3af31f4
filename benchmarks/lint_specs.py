"""Benchmark: `govops lint` on N generated specs vs parsing them with ruamel.yaml alone.

Run: .venv/bin/python benchmarks/lint_specs.py [N ...]   (default 100 1000 10000)
`govops lint` is timed end to end as a user runs it (a subprocess, start-up included).
The baselines parse the same files in one process with ruamel's round-trip loader and
its safe (C) loader, without validation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gen import generate_repo  # noqa: E402

GOVOPS = [sys.executable, "-m", "engine.cli"]


def time_lint(root: Path) -> float:
    t = time.perf_counter()
    result = subprocess.run([*GOVOPS, "-C", str(root), "lint"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if result.returncode != 0:
        raise SystemExit(f"lint failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


def time_parse(root: Path, typ: str) -> float:
    yaml = YAML(typ=typ)
    files = sorted(root.rglob("*.yaml"))
    t = time.perf_counter()
    for f in files:
        yaml.load(f.read_text())
    return time.perf_counter() - t


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100, 1000, 10000]
    print(f"machine: {os.cpu_count()} cores; govops lint (end to end) vs ruamel.yaml parsing alone (1 process)")
    print(f"{'N':>7} {'govops lint':>12} {'ruamel rt':>10} {'ruamel safe':>12} {'lint/rt':>8} {'specs/s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            root = generate_repo(Path(tmp) / f"repo-{n}", n)
            lint = min(time_lint(root) for _ in range(2 if n <= 1000 else 1))
            rt = time_parse(root, "rt")
            safe = time_parse(root, "safe")
            print(f"{n:>7} {lint:>11.2f}s {rt:>9.2f}s {safe:>11.2f}s {lint / rt:>8.2f} {n / lint:>9.0f}")


if __name__ == "__main__":
    main()
