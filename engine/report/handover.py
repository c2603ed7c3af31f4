"""Validation results handed over by another job: read as untrusted data, matched to our own tasks.

Report stage, used by ``govops pr-check --validation-results DIR`` in the reporting job of the
split PR workflow. The validation job (no token, ``contents: read``) ran the checks next to the
PR's artifacts and uploaded ``DIR``; anything in it may have been written by a PR's model code.
So this module trusts a result document for its verdict and numbers only, and decides
everything else itself:

- *which* results are needed: the tasks the reporting side computed from the base's
  ``govops.yaml`` and the plan (a missing, extra or renamed file changes nothing);
- that each document is a regular file under a size cap, JSON without duplicate keys, about
  the right model, check, version and champion, judged against the thresholds *this* side
  computed (so a head's ``govops.yaml`` cannot loosen them), with a known status, and whose
  ``pass`` its own gating metrics do not contradict; anything else becomes an ``error``
  result saying why;
- no link from the document is kept (the statuses link to the reporting run itself);
- none is read at all when the change edits ``.github/``: the validation run that wrote
  them used the PR's own copy of the workflow, so every task becomes an ``error``.

It never runs, imports or loads anything from ``DIR`` besides parsing those JSON files.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.policy.exact import loads_strict
from engine.validation.dag import ValidationTask

MAX_RESULT_BYTES = 4 << 20
STATUSES = ("pass", "fail", "error")
_DROP = ("url",)


def _error(task: ValidationTask, why: str) -> dict[str, Any]:
    return {
        "check": task.check, "model": task.model, "version": task.version, "champion": task.champion,
        "status": "error", "summary": f"{task.check}: {why}", "error": why, "metrics": [],
        "thresholds": dict(task.thresholds), "inputs": [],
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # `true` is not the threshold 1 (Python says True == 1)
        return type(a) is type(b) and a == b
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=0.0)


def result_file(results_dir: Path, task: ValidationTask) -> Path:
    """Where the validation job wrote a task's result: ``<dir>/<tenant>/<name>/<check>.json``."""
    tenant, name = task.model.split("/", 1)
    return results_dir / tenant / name / f"{task.check}.json"


def read_one(results_dir: Path, task: ValidationTask) -> dict[str, Any]:
    """The handed-over result of ``task``, or an ``error`` result saying what was wrong with it."""
    from engine.spec.check_result import document_passes

    path = result_file(results_dir, task)
    rel = f"{task.model}/{task.check}.json"
    try:
        st = os.lstat(path)
    except OSError:
        return _error(task, f"the validation job handed over no result ({rel})")
    if not stat.S_ISREG(st.st_mode):
        return _error(task, f"the validation job's result {rel} is not a regular file")
    if st.st_size > MAX_RESULT_BYTES:
        return _error(task, f"the validation job's result {rel} is larger than {MAX_RESULT_BYTES} bytes")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_RESULT_BYTES + 1)
        doc = loads_strict(raw)  # duplicate keys, NaN, trailing text: refused
    except (OSError, ValueError, RecursionError) as exc:
        return _error(task, f"the validation job's result {rel} is not readable JSON: {exc}")
    if not isinstance(doc, dict):
        return _error(task, f"the validation job's result {rel} is not a JSON object")
    expected = {"model": task.model, "check": task.check, "version": task.version, "champion": task.champion}
    wrong = [k for k, v in expected.items() if doc.get(k) != v]
    if wrong:
        got = ", ".join(f"{k}={doc.get(k)!r}" for k in wrong)
        return _error(task, f"the validation job's result {rel} is about something else ({got})")
    judged = doc.get("thresholds")
    if not isinstance(judged, dict):
        return _error(task, f"the validation job's result {rel} does not say which thresholds it judged against")
    differ = [k for k, v in task.thresholds.items() if not _same(judged.get(k), v)]
    if differ:
        got = ", ".join(f"{k}={judged.get(k)!r} (expected {task.thresholds[k]!r})" for k in differ[:3])
        return _error(task, f"the validation job judged {rel} against other thresholds: {got}")
    if doc.get("status") not in STATUSES or not isinstance(doc.get("summary", ""), str):
        return _error(task, f"the validation job's result {rel} has no valid status")
    if not isinstance(doc.get("metrics", []), list):
        return _error(task, f"the validation job's result {rel} has malformed metrics")
    if doc["status"] == "pass" and not document_passes(doc):
        return _error(task, f"the validation job's result {rel} says pass, but its own gating metrics do not")
    if doc["status"] == "pass" and task.thresholds and not any(
        isinstance(m, dict) and m.get("threshold") is not None and m.get("passed") is True for m in doc["metrics"]
    ):
        return _error(task, f"the validation job's result {rel} says pass without one metric judged against "
                            "a threshold")
    return {k: v for k, v in doc.items() if k not in _DROP}


def workflow_edits(changed_files: Iterable[str]) -> list[str]:
    """The changed files under ``.github/`` (what decides which workflow the validation job ran)."""
    return sorted(f for f in changed_files if f.split("/", 1)[0].casefold() == ".github")


def read_results(results_dir: Path, tasks: list[ValidationTask], *,
                 changed_files: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One result per task, in task order (see :func:`read_one`).

    A change that edits ``.github/`` was validated by the PR's own copy of the workflow
    (``pull_request`` runs the PR's file), which can write any result it likes: then no
    result is read and every task is an ``error`` saying why.
    """
    edits = workflow_edits(changed_files)
    if edits:
        shown = ", ".join(edits[:3]) + (f" (+{len(edits) - 3} more)" if len(edits) > 3 else "")
        why = (f"results not trusted: this change edits {shown}, so the validation run used the PR's own "
               "workflow; a code owner must review the workflow change (GOV-META-001), which belongs in a PR "
               "of its own")
        return [_error(task, why) for task in tasks]
    return [read_one(results_dir, task) for task in tasks]


__all__ = ["MAX_RESULT_BYTES", "read_one", "read_results", "result_file", "workflow_edits"]
