"""The local executor: validation tasks in parallel worker processes on this machine.

Validation stage, embedded default (Argo is the distributed one). Each task runs
``runners.runner.run_check`` in its own process (forked, so imports are shared), at most
``jobs`` at a time, with a per-task time limit: a task over its limit gets SIGTERM (so a
check can stop what it started, e.g. an MLServer), then SIGKILL, and becomes an ``error``
result. A crash in one task never stops the run. Model artifacts are never loaded here nor in
the check workers: each check talks to sandboxed prediction workers (``runners.model_worker``),
and the reference profiles ask those workers for predictions too. Writes one result file per task at
``out_dir/<tenant>/<name>/<check>.json`` and ``out_dir/summary.json``; nothing else.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.validation.dag import ValidationTask
from engine.validation.executors import ValidationRun

GRACE_S = 5.0
POLL_S = 0.02


def result_path(out_dir: Path, task: ValidationTask) -> Path:
    """Where a task's result goes: ``<out>/<tenant>/<name>/<check>.json``."""
    tenant, name = task.model.split("/", 1)
    return out_dir / tenant / name / f"{task.check}.json"


def run_task(root: Path, task: ValidationTask, out_file: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """Run one task in this process and write its result (what a worker does)."""
    from runners.runner import run_check

    result = run_check(
        root, task.check, spec_file=task.spec_file, model=task.model, version=task.version,
        champion=task.champion, thresholds=dict(task.thresholds), cache_dir=cache_dir,
    )
    result.write(out_file)
    return result.to_json()


def _worker(root: str, task: dict[str, Any], out_file: str, cache_dir: str | None) -> None:
    def _term(signum: int, frame: object) -> None:
        raise SystemExit(143)  # unwinds context managers (servers a check started)

    signal.signal(signal.SIGTERM, _term)
    t = ValidationTask(**{**task, "depends_on": tuple(task.get("depends_on", ()))})
    run_task(Path(root), t, Path(out_file), Path(cache_dir) if cache_dir else None)


def _error(task: ValidationTask, message: str, duration: float) -> dict[str, Any]:
    from engine.spec.check_result import CheckResult

    r = CheckResult(
        check=task.check, model=task.model, version=task.version, status="error",
        summary=f"{task.check} could not finish: {message}", champion=task.champion,
        thresholds=dict(task.thresholds), error=message, duration_s=round(duration, 3),
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return r.to_json()


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def run_validation(
    root: Path,
    tasks: list[ValidationTask],
    out_dir: Path,
    *,
    jobs: int = 2,
    timeout_s: float = 300,
    cache_dir: Path | None = None,
) -> ValidationRun:
    """Run every task (at most ``jobs`` at once, each within ``timeout_s``); results in task order."""
    import numpy  # noqa: F401  (imported once before forking: workers share it)
    import pandas  # noqa: F401
    import sklearn  # noqa: F401

    import runners.checks  # noqa: F401

    keys = [t.key for t in tasks]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate validation task(s) {', '.join(dupes)}: one result file per model and check")
    root = Path(root).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _not_world_writable(out_dir)
    jobs = max(1, int(jobs))
    started = datetime.now(UTC)
    t_start = time.monotonic()
    for task in tasks:  # a stale file from an earlier run must never be read as this run's result
        result_path(out_dir, task).unlink(missing_ok=True)
    results = _run_workers(root, tasks, out_dir, jobs, timeout_s, cache_dir)
    ordered = [results[i] for i in range(len(tasks))]
    tally = Counter(r["status"] for r in ordered)
    counts = {k: tally.get(k, 0) for k in ("pass", "fail", "error")}
    from engine.spec.check_result import document_passes

    ok = all(document_passes(r) for r in ordered)  # fails closed on a "pass" its own metrics contradict
    summary: dict[str, Any] = {
        "ok": ok,
        "executor": "local",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - t_start, 3),
        "jobs": jobs,
        "timeout_s": timeout_s,
        "counts": counts,
        "results": [
            {
                "model": r["model"], "check": r["check"], "version": r["version"], "status": r["status"],
                "summary": r["summary"], "file": result_path(out_dir, t).relative_to(out_dir).as_posix(),
            }
            for r, t in zip(ordered, tasks, strict=True)
        ],
    }
    summary["profiles"] = store_profiles(root, tasks, out_dir)
    summary_path = out_dir / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return ValidationRun(results=ordered, ok=ok, summary_path=summary_path, out_dir=out_dir, counts=counts)


def _run_workers(
    root: Path, tasks: list[ValidationTask], out_dir: Path, jobs: int, timeout_s: float, cache_dir: Path | None,
) -> dict[int, dict[str, Any]]:
    """One worker process per task, ``jobs`` at once; each result by task index (a timeout is a result too).

    Interrupted, it leaves no worker behind.
    """
    ctx = _context()
    pending = list(enumerate(tasks))
    running: dict[int, tuple[Any, float, bool]] = {}
    results: dict[int, dict[str, Any]] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                i, task = pending.pop(0)
                proc = ctx.Process(
                    target=_worker,
                    args=(str(root), task.to_json(), str(result_path(out_dir, task)),
                          str(cache_dir) if cache_dir else None),
                    name=f"govops-{task.key}",
                    daemon=False,
                )
                proc.start()
                running[i] = (proc, time.monotonic(), False)
            for i in list(running):
                _watch(i, tasks[i], running, results, out_dir, timeout_s)
            time.sleep(POLL_S)
    finally:
        for proc, _, _ in running.values():  # interrupted: leave no worker behind
            if proc.is_alive():
                proc.kill()
            proc.join()
    return results


def _watch(
    i: int, task: ValidationTask, running: dict[int, tuple[Any, float, bool]], results: dict[int, dict[str, Any]],
    out_dir: Path, timeout_s: float,
) -> None:
    """One look at worker ``i``: collect it when done, terminate it past ``timeout_s``, kill it past the grace."""
    proc, t0, terminated = running[i]
    elapsed = time.monotonic() - t0
    if not proc.is_alive():
        proc.join()
        results[i] = _collect(task, out_dir, proc.exitcode, elapsed)
        del running[i]
    elif elapsed > timeout_s and not terminated:
        proc.terminate()
        running[i] = (proc, t0, True)
    elif terminated and elapsed > timeout_s + GRACE_S:
        proc.kill()
        proc.join()
        results[i] = _timed_out(task, out_dir, timeout_s, elapsed)
        del running[i]
    if i in results and terminated:
        results[i] = _timed_out(task, out_dir, timeout_s, elapsed)


def _not_world_writable(out_dir: Path) -> None:
    """Prediction workers run as an unprivileged user when govops is root: keep them out of the results."""
    mode = out_dir.stat().st_mode
    if mode & 0o002:
        out_dir.chmod(mode & ~0o022 & 0o7777)


def store_profiles(root: Path, tasks: list[ValidationTask], out_dir: Path) -> list[dict[str, Any]]:
    """Compute each validated version's reference profile once and store it beside the results.

    Monitoring compares production traffic with these small, mergeable summaries, so it never
    rereads training data. A profile that cannot be built is recorded, never fatal: the checks
    already judged the data.
    """
    from engine.spec.errors import GovopsError
    from engine.spec.workspace import load_spec_file
    from engine.validation.profile import compute_profile, store_beside_results

    done: list[dict[str, Any]] = []
    for spec_file, model, version in sorted({(t.spec_file, t.model, t.version) for t in tasks}):
        loaded, _ = load_spec_file(root / spec_file, root, None)
        if loaded is None or loaded.spec.spec.validation is None:
            continue
        try:
            paths = store_beside_results(root, compute_profile(root, loaded.spec, version), out_dir)
            done.append({"model": model, "version": version, "file": paths[-1].relative_to(out_dir).as_posix()})
        except (GovopsError, OSError, ValueError) as exc:
            done.append({"model": model, "version": version, "error": str(exc)})
    return done


def _collect(task: ValidationTask, out_dir: Path, exitcode: int | None, elapsed: float) -> dict[str, Any]:
    path = result_path(out_dir, task)
    if exitcode == 0 and path.is_file():
        try:
            doc: dict[str, Any] = json.loads(path.read_text())
            return doc
        except ValueError:
            pass
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    doc = _error(task, f"the worker process died ({how}) without writing a result", elapsed)
    _write(path, doc)
    return doc


def _timed_out(task: ValidationTask, out_dir: Path, timeout_s: float, elapsed: float) -> dict[str, Any]:
    doc = _error(task, f"exceeded its time limit of {timeout_s:g} s; the worker was stopped", elapsed)
    _write(result_path(out_dir, task), doc)
    return doc


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
