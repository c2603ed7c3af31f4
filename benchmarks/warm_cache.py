"""Benchmark the result cache: `govops lint` and `govops check --all` on 1,000 specs, cold and warm.

Each figure is one new process, end to end (start-up included), as a user runs it; the
floor is `python -c pass` (the interpreter alone) timed in the same run, and every figure is
also given as a ratio to it. "cold" is the first run with an empty cache directory (every
spec loaded and judged; for check, also no decision cache), "warm" the best of five runs
with nothing changed (target: under 0.3 s), "one changed" a run after editing one spec
(that spec alone is loaded and judged again). Specs are generated as in benchmarks/check.py.
Run: .venv/bin/python benchmarks/warm_cache.py [--specs 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check import ROOT, make_repo  # noqa: E402


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one process."""
    cpu0 = _children_cpu()
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if res.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr[-2000:]}")
    return took, _children_cpu() - cpu0


def best(cmd: list[str], cwd: Path, env: dict[str, str], n: int = 5) -> tuple[float, float]:
    """The run with the least wall time of ``n`` (the one the neighbours disturbed least)."""
    return min((timed(cmd, cwd, env) for _ in range(n)), key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--specs", type=int, default=1000)
    n = parser.parse_args().specs
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVOPS_")}
    env["PYTHONPATH"] = str(ROOT)
    govops = [sys.executable, "-m", "engine.cli"]
    rows: list[tuple[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", n)
        env["GOVOPS_CACHE_DIR"] = str(Path(tmp) / "cache")
        floor = best([sys.executable, "-c", "pass"], repo, env)
        spec = sorted((repo / "specs").rglob("*.yaml"))[n // 2]
        for name, args in (("lint", ["lint"]), ("check --all", ["check", "--all"])):
            cold = timed([*govops, *args], repo, env)
            warm = best([*govops, *args], repo, env)
            spec.write_text(spec.read_text().replace("description: ", "description: (edited) ", 1))
            changed = timed([*govops, *args], repo, env)
            rows += [(f"{name} cold", cold), (f"{name} warm", warm), (f"{name} one changed", changed)]
    print(f"result cache benchmark: {n} specs, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          "seconds end to end (a new process each run): wall, ratio to `python -c pass`; CPU (user+sys), ratio")
    print(f"{'python -c pass':<24} {floor[0]:7.3f} s  1.0x   CPU {floor[1]:6.3f} s  1.0x")
    for name, (wall, cpu) in rows:
        mark = ""
        if name.endswith("warm"):
            mark = "  (target < 0.3 s: " + ("met" if wall < 0.3 else "NOT met") + ")"
        print(f"{name:<24} {wall:7.3f} s {wall / floor[0]:5.1f}x   CPU {cpu:6.3f} s {cpu / max(floor[1], 1e-3):5.1f}x"
              f"{mark}")


if __name__ == "__main__":
    main()
