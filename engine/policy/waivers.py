"""Waivers as data (``policies/waivers.yaml``): a rule, a model, a reason, an approver, an expiry.

Part of the policy stage. This module only reads and types the file and turns expiry
times into integer nanoseconds; whether a waiver applies (rule, model, approver in the
risk group, not expired at ``now_ns``) is decided by the Rego in ``policies/main.rego``,
the same engine at PR time, at merge and on a later re-check. Never edits rules.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.policy.errors import PolicyError
from engine.policy.timeutil import to_ns, to_rfc3339
from engine.spec.limits import check_waiver_count, max_waiver_bytes
from engine.spec.loader import YamlDocument, YamlError, load_yaml_file, parse_yaml

WAIVERS_FILE = "waivers.yaml"


class Waiver(BaseModel):
    """One exception to one rule for one model (or ``*``), until it expires."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = Field(pattern=r"^[A-Z]+(-[A-Z0-9]+)+$", description="the rule id, e.g. GOV-THR-001")
    model: str = Field(pattern=r"^([a-z0-9-]+/[a-z0-9-]+|\*)$", description="tenant/name, or * for every model")
    reason: str = Field(min_length=1)
    approver: str = Field(min_length=1, description="a member of the risk group in govops.yaml")
    expires: datetime = Field(description="RFC 3339; a waiver always expires")


class WaiverFile(BaseModel):
    """The waivers document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    waivers: list[Waiver] = Field(default_factory=list)


def load_waivers(policy_dir: Path, display_dir: str = "policies") -> list[dict[str, Any]]:
    """The waivers of a policy directory on disk as policy input; [] without a file."""
    path = policy_dir / WAIVERS_FILE
    shown = f"{display_dir.rstrip('/')}/{WAIVERS_FILE}"
    if not path.is_file():
        return []
    try:
        doc = load_yaml_file(path, shown, max_bytes=max_waiver_bytes(), what="waivers.yaml",
                             setting="GOVOPS_MAX_WAIVER_BYTES")
    except YamlError as exc:
        raise PolicyError(exc.message, file=shown, line=exc.line, col=exc.col) from None
    return [w for w, _ in _typed(doc, shown)]


def parse_waivers(raw: bytes | None, shown: str) -> list[tuple[dict[str, Any], int]]:
    """Waivers from file bytes (read from Git), each with its line in the file; [] for no file."""
    if raw is None:
        return []
    try:
        doc = parse_yaml(raw, shown, max_bytes=max_waiver_bytes(), what="waivers.yaml")
    except YamlError as exc:
        raise PolicyError(exc.message, file=shown, line=exc.line, col=exc.col) from None
    return _typed(doc, shown)


def _typed(doc: YamlDocument, shown: str) -> list[tuple[dict[str, Any], int]]:
    """Validate the document and turn it into policy input (``expires_ns`` added), soonest expiry last."""
    check_waiver_count(doc.data, shown, doc.position(("waivers",))[0])  # before validating every entry
    try:
        parsed = WaiverFile.model_validate(doc.data if doc.data is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line, col = doc.position(loc)
        where = ".".join(str(p) for p in loc)
        raise PolicyError(f"invalid waiver ({where}): {err['msg']}", file=shown, line=line, col=col) from None
    out = [
        (
            {
                "rule": w.rule,
                "model": w.model,
                "reason": w.reason,
                "approver": w.approver,
                "expires": to_rfc3339(w.expires),
                "expires_ns": to_ns(w.expires),
            },
            doc.position(("waivers", i))[0],
        )
        for i, w in enumerate(parsed.waivers)
    ]
    return sorted(out, key=lambda wl: (-wl[0]["expires_ns"], wl[0]["rule"], wl[0]["model"]))
