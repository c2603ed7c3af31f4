"""The local executor: parallel workers, a per-check time limit, crashes contained, one file per task."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from engine.mlserver.process import alive as _alive
from engine.spec.check_result import Metric
from engine.validation.dag import ValidationTask
from engine.validation.executors.local import result_path, run_validation
from runners.base import Check, CheckContext, Outcome, register
from tests.helpers.runner_helpers import FEATURES, classification_data, write_repo


@register
class _Sleepy(Check):
    name = "test_sleep"

    def run(self, ctx: CheckContext) -> Outcome:
        (ctx.root / "sleepy.pid").write_text(str(os.getpid()))
        time.sleep(60)
        return Outcome([], "slept")


@register
class _Crash(Check):
    name = "test_crash"

    def run(self, ctx: CheckContext) -> Outcome:
        os._exit(7)  # the worker dies without a word


@register
class _Quick(Check):
    name = "test_quick"

    def run(self, ctx: CheckContext) -> Outcome:
        return Outcome([Metric("pid", float(os.getpid()), gate=False)], "quick")


@register
class _Nap(Check):
    name = "test_nap"

    def run(self, ctx: CheckContext) -> Outcome:
        start = time.time()
        time.sleep(1.0)
        return Outcome([Metric("start", start, gate=False), Metric("end", time.time(), gate=False),
                        Metric("pid", float(os.getpid()), gate=False)], "napped")


@register
class _Nap2(_Nap):
    name = "test_nap2"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, str]:
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    return write_repo(tmp_path_factory.mktemp("exec"), ref, ev, {"2.0.0": model})


def task(spec: str, check: str, thresholds: dict | None = None) -> ValidationTask:
    return ValidationTask(model="t/m", check=check, spec_file=spec, version="2.0.0", champion=None,
                          thresholds=thresholds or {})


@pytest.mark.slow
def test_runs_every_task_and_writes_files_and_summary(repo, tmp_path):
    root, spec = repo
    tasks = [task(spec, "performance", {"min_accuracy": 0.5}), task(spec, "performance", {"min_accuracy": 0.999}),
             task(spec, "drift", {"max_ks": 0.3}), task(spec, "test_quick"), task(spec, "test_crash")]
    tasks[1] = ValidationTask(**{**tasks[1].to_json(), "model": "t/m", "check": "fit",
                                 "thresholds": {"min_train_score": 0.999}})
    out = tmp_path / "out"
    run = run_validation(root, tasks, out, jobs=2, timeout_s=60)
    assert [r["status"] for r in run.results] == ["pass", "fail", "pass", "pass", "error"]
    assert not run.ok
    crash = run.results[4]
    assert "worker process died (exit code 7)" in crash["error"]
    for t, r in zip(tasks, run.results, strict=True):
        assert json.loads(result_path(out, t).read_text()) == r
        assert result_path(out, t) == out / "t" / "m" / f"{t.check}.json"
    summary = json.loads(run.summary_path.read_text())
    assert summary["counts"] == {"pass": 3, "fail": 1, "error": 1}
    assert summary["ok"] is False and summary["jobs"] == 2
    assert [s["file"] for s in summary["results"]][0] == "t/m/performance.json"
    assert run.results[3]["metrics"][0]["value"] != os.getpid()  # ran in a worker process
    # the validated version's reference profile is stored beside the results, for monitoring
    assert summary["profiles"] == [{"model": "t/m", "version": "2.0.0", "file": "t/m/profile-2.0.0.json"}]
    profile = json.loads((out / "t" / "m" / "profile-2.0.0.json").read_text())
    assert profile["model"] == "t/m" and profile["version"] == "2.0.0"
    from engine.spec.settings import cache_root

    assert (cache_root() / "profiles" / "t--m" / "2.0.0").is_dir()  # kept in the cache, outside the checkout
    assert not (root / ".govops").exists()


@pytest.mark.slow
def test_check_over_its_time_limit_is_killed_and_becomes_an_error(repo, tmp_path):
    root, spec = repo
    # the sleeping check would sleep 60 s and then pass: an error naming the limit means it was stopped
    run = run_validation(root, [task(spec, "test_sleep"), task(spec, "test_quick")], tmp_path / "out",
                         jobs=2, timeout_s=1.5)
    sleepy, quick = run.results
    assert sleepy["status"] == "error" and "exceeded its time limit of 1.5 s" in sleepy["error"]
    assert quick["status"] == "pass"
    pid = int((root / "sleepy.pid").read_text())
    assert not _alive(pid), "the timed-out worker is still running"


@pytest.mark.slow
def test_jobs_run_in_parallel_processes(repo, tmp_path):
    root, spec = repo
    run = run_validation(root, [task(spec, "test_nap"), task(spec, "test_nap2"), task(spec, "test_quick")],
                         tmp_path / "out", jobs=2, timeout_s=60)
    assert [r["status"] for r in run.results] == ["pass", "pass", "pass"]
    (a_start, a_end, a_pid), (b_start, b_end, b_pid) = (
        [m["value"] for m in r["metrics"]] for r in run.results[:2])
    assert a_pid != b_pid
    assert a_start < b_end and b_start < a_end  # the two naps overlapped
    serial = run_validation(root, [task(spec, "test_nap"), task(spec, "test_nap2")], tmp_path / "serial",
                            jobs=1, timeout_s=60)
    (a_start, a_end, _), (b_start, b_end, _) = ([m["value"] for m in r["metrics"]] for r in serial.results)
    assert a_end <= b_start  # one at a time


def test_duplicate_tasks_are_refused(repo, tmp_path):
    root, spec = repo
    with pytest.raises(ValueError, match="t/m/test_quick"):
        run_validation(root, [task(spec, "test_quick"), task(spec, "test_quick")], tmp_path / "out")


