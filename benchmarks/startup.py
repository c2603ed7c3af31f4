"""Benchmark: start-up of the ``govops`` command against the interpreter's own floor.

Times, in the same run and interleaved (so a busy machine slows every row alike), the
median of ``--repeat`` fresh processes of:

- ``python -c pass``: the interpreter's start-up, the floor nothing can beat;
- ``govops --version`` and ``govops --help`` (target: under 150 ms): import the CLI and its
  command registry, no command module;
- ``govops lint SPEC`` of one spec (target: under 300 ms): through the result cache, as a
  user's second lint of an unchanged spec runs (the cache is filled by the compile run);
- the same with the cache off (``GOVOPS_POLICY_CACHE=false``): the spec model, the loader and
  the settings imported and the spec judged, as the first lint of a new spec runs.

``govops`` is the console script beside the interpreter when installed (what a user runs),
else ``python -m engine.cli``. Usage: ``python benchmarks/startup.py [--repeat 15] [--json FILE]``.
Prints a table; nothing is asserted (``tests/spec/test_startup_imports.py`` checks what is
imported, which is what keeps these numbers down).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
SPEC = "specs/lab/iris-species.yaml"
TARGETS_MS = {"--version": 150, "--help": 150, "lint (one spec)": 300, "lint (no cache)": 300}
NO_CACHE = {"lint (no cache)": {"GOVOPS_POLICY_CACHE": "false"}}


def govops_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m engine.cli``."""
    script = Path(sys.executable).with_name("govops")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "engine.cli"]


def python_env() -> dict[str, str]:
    """Bytecode cached outside the checkout, as an installed govops has it (``PYTHONDONTWRITEBYTECODE`` dropped)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "govops-bench-pycache"))
    return {**env, "PYTHONPATH": str(PROJECT)}


def cases() -> dict[str, list[str]]:
    """Name -> command line, the floor first."""
    cli = govops_command()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--version": [*cli, "--version"],
        "--help": [*cli, "--help"],
        "lint (one spec)": [*cli, "-C", str(PROJECT), "lint", str(PROJECT / SPEC)],
        "lint (no cache)": [*cli, "-C", str(PROJECT), "lint", str(PROJECT / SPEC)],
    }


def measure(repeat: int) -> dict[str, list[float]]:
    """Wall times (s) of every case, ``repeat`` rounds, one run of each case per round."""
    env = python_env()
    runs: dict[str, list[float]] = {name: [] for name in cases()}
    for name, cmd in cases().items():  # compile once: an installed package has its bytecode
        subprocess.run(cmd, cwd=PROJECT, env={**env, **NO_CACHE.get(name, {})}, capture_output=True)
    for _ in range(repeat):
        for name, cmd in cases().items():
            t0 = time.perf_counter()
            res = subprocess.run(cmd, cwd=PROJECT, env={**env, **NO_CACHE.get(name, {})}, capture_output=True)
            runs[name].append(time.perf_counter() - t0)
            if res.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.decode()[-500:]}")
    return runs


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="processes per case (the median is reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    runs = measure(args.repeat)
    floor = statistics.median(runs["python -c pass"])
    rows = []
    print(f"{'command':<18} {'median ms':>10} {'over floor':>11} {'ratio':>6} {'target':>7}  ok")
    for name, times in runs.items():
        med = statistics.median(times)
        target = TARGETS_MS.get(name)
        ok = "" if target is None else ("yes" if med * 1000 < target else "NO")
        rows.append({"case": name, "median_ms": round(med * 1000, 1), "over_floor_ms": round((med - floor) * 1000, 1),
                     "ratio_to_floor": round(med / floor, 2), "target_ms": target, "runs": len(times)})
        print(f"{name:<18} {med * 1000:>10.1f} {(med - floor) * 1000:>11.1f} {med / floor:>6.2f} "
              f"{'' if target is None else target:>7}  {ok}")
    print(f"(median of {args.repeat}; {os.cpu_count()} cores; govops = {' '.join(govops_command())})")
    if args.json:
        args.json.write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
