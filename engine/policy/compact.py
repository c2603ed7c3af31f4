"""The compact evaluation form of a policy input: what the embedded engine sends instead of the full document.

Part of the policy stage (between the input contract and a backend). regopy spends most
of a query *reading the input* (about half a microsecond per byte), and most of a
published input is the same for every model of a run: ``config`` (govops.yaml),
``freezes`` and ``waivers``; on a re-check ``previous`` and ``previous_checks`` repeat
``spec`` and ``checks`` as well. The compact form leaves the run-level documents out
(the backend loads them once per interpreter as ``data.govops_run``) and, where the
base equals the head, replaces the second copy with ``"previous_is_spec": true``.
``policies/lib.rego`` reads every such field through a helper that prefers the input
and falls back to the data, so the full input (what ``govops policy input`` prints and
``opa eval -I -d policies/ data.govops.main`` replays) and the compact one decide the
same; ``tests/policy/test_policy_compact.py`` proves it case by case. This module never
evaluates anything and never changes the published input.
"""

from __future__ import annotations

import re
from typing import Any

from engine.policy.exact import rego_json

RUN_KEYS = ("config", "freezes", "waivers")
"""Input fields that every model of one run shares (loaded once as ``data.govops_run``)."""

RUN_DATA_ROOT = "govops_run"
"""``data.govops_run`` holds the run-level documents in the embedded engine."""

PREVIOUS_MARKER = "previous_is_spec"
"""Compact inputs mark ``previous == spec`` and ``previous_checks == checks`` with this flag."""


def run_documents(doc: dict[str, Any]) -> dict[str, Any]:
    """The run-level documents of one published input (``config``, ``freezes``, ``waivers``)."""
    return {key: doc[key] for key in RUN_KEYS if key in doc}


def compact(doc: dict[str, Any], run: dict[str, Any]) -> dict[str, Any] | None:
    """The compact form of ``doc`` when its run-level documents are ``run``; None when they differ."""
    for key in RUN_KEYS:
        if key not in doc or key not in run:
            return None
        if doc[key] is not run[key] and doc[key] != run[key]:
            return None
    out = {k: v for k, v in doc.items() if k not in RUN_KEYS}
    if (
        "previous" in out
        and "previous_checks" in out
        and out.get("spec") is not None
        and _same(out["previous"], out["spec"])
        and _same(out["previous_checks"], out.get("checks"))
    ):
        del out["previous"], out["previous_checks"]
        out[PREVIOUS_MARKER] = True
    return out


def expand(compact_doc: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    """The full input a compact document stands for (the inverse of ``compact``)."""
    out = {k: v for k, v in compact_doc.items() if k != PREVIOUS_MARKER}
    if compact_doc.get(PREVIOUS_MARKER) is True:
        out["previous"] = compact_doc["spec"]
        out["previous_checks"] = compact_doc["checks"]
    out.update(run)
    return out


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b


def data_json(value: Any) -> str:
    """JSON that rego-cpp 1.5.2 accepts as a *base document* (``add_data_json``), strings in their exact form.

    ``engine.policy.exact.rego_json``: floats always carry a fraction digit (the data
    parser refuses ``1e-06``), and every string is in the canonical form the inputs use,
    so a name in the run data (a waiver's approver) equals the same name in an input.
    """
    return rego_json(value)


_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_DIRECT = re.compile(r"\binput\.(config|freezes|waivers|previous_checks|previous)\b")
_WHOLE = re.compile(r"\binput\b(?!\.)")
_LIB_HELPER = re.compile(r"^(\w+ := input\.\w+ if \{|\tinput\.\w+|\} else := input\.\w+)$")
_LIB_FALLBACK = "}} else := data.{root}.{name}"


def direct_reads(modules: dict[str, str]) -> list[str]:
    """Where policy ``modules`` read an input field the compact form leaves out (``name:line: code``).

    The compact form is only sound while every rule reads ``config``, ``freezes``,
    ``waivers`` and the previous spec through ``data.govops.lib`` (which falls back to
    ``data.govops_run``); a rule that reads ``input.config`` directly, or the whole
    ``input``, would see nothing there and could pass a model it should deny. A library
    with any such read is evaluated on full inputs instead (slower, never wrong). Only
    the helper lines of ``lib.rego`` may read those fields, and only while its fallbacks
    to the run data are in place.
    """
    found: list[str] = []
    for name, source in sorted(modules.items()):
        is_lib = name.rsplit("/", 1)[-1] == "lib.rego"
        if is_lib:
            missing = [k for k in RUN_KEYS if _LIB_FALLBACK.format(root=RUN_DATA_ROOT, name=k) not in source]
            found.extend(f"{name}: no fallback `else := data.{RUN_DATA_ROOT}.{k}`" for k in missing)
        for n, line in enumerate(source.splitlines(), 1):
            code = _STRINGS.sub('""', line).split("#", 1)[0].rstrip()
            if _WHOLE.search(code) or (_DIRECT.search(code) and not (is_lib and _LIB_HELPER.match(code))):
                found.append(f"{name}:{n}: {line.strip()}")
    return found
