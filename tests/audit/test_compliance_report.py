"""``govops report``: the compliance report (JSON, Markdown, self-contained HTML rendered in Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.helpers.audit_helpers import History, build_history, govops, rollout_note

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

WAIVERS = """waivers:
  - rule: GOV-THR-001
    model: lab/iris-species
    reason: Accuracy threshold relaxed while the new labels are audited.
    approver: rita.risk
    expires: 2026-06-30T00:00:00+00:00
  - rule: GOV-LIN-001
    model: clinical/readmission-triage
    reason: Lineage back-filled by Q1.
    approver: omar.compliance
    expires: 2099-01-01T00:00:00+00:00
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    h = build_history(tmp_path_factory.mktemp("report") / "repo")
    (h.path / "policies").mkdir()
    (h.path / "policies" / "waivers.yaml").write_text(WAIVERS)
    h.commit("Waivers for Q1 (#15)", "2026-03-05T09:00:00+00:00", who=("Rita Risk", "rita@example.com"))
    # a failed validation recorded with a failed rollout of the tumour model
    h.edit("specs/oncology/tumor-malignancy.yaml", "champion: 1.0.0", "champion: 1.1.0")
    h.edit("specs/oncology/tumor-malignancy.yaml", "    challengers:\n      - {version: 1.1.0, mode: ab, weight: 20}\n",
           "")
    h.shas["tumor"] = h.commit("Promote tumour 1.1.0 (#16)", "2026-03-10T09:00:00+00:00",
                               who=("Gus DS", "gus@example.com"))
    rollout_note(h.path, h.shas["tumor"], "2026-03-10T10:00:00Z", model="oncology/tumor-malignancy",
                 outcome="failed", failing_check="drift", approvals=[{"approver": "hana.lead", "group": None}])
    return h


def _json(h: History, *extra: str) -> dict:
    res = govops("-C", str(h.path), "report", "--format", "json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_report_sections(history: History) -> None:
    doc = _json(history)
    assert doc["inventory"]["by_tier"] == {"high": 1, "low": 2, "medium": 3}
    assert len(doc["inventory"]["models"]) == 6
    merge = next(c for c in doc["changes"] if c["commit"] == history.shas["merge"])
    assert merge["pr"] == 12 and merge["approvers"] == ["lee.lead"] and merge["models"] == ["lab/iris-species"]
    assert merge["policy_decisions"] == 1 and merge["validation"] == 7 and merge["evidence_missing"] is False
    moved = next(c for c in doc["changes"] if c["commit"] == history.shas["move"])
    assert moved["models"] == ["lab/iris-species"] and moved["evidence_missing"] is True
    status = {w["rule"]: w["status"] for w in doc["policy_exceptions"]}
    assert status == {"GOV-THR-001": "expired", "GOV-LIN-001": "active"}
    [failed] = doc["failed_validations"]
    assert failed["model"] == "oncology/tumor-malignancy" and failed["check"] == "drift"
    kinds = [(i["kind"], i["commit"]) for i in doc["incidents"]]
    assert ("shutdown", history.shas["shutdown"]) in kinds
    assert ("revert", history.shas["revert"]) in kinds
    assert ("failed rollout", history.shas["tumor"]) in kinds
    lacking = {m["model"]: m["missing"] for m in doc["lacking_evidence"]}
    assert "lab/iris-species" not in lacking  # its last rollout carries every required check
    assert lacking["beverages/wine-cultivar"] == ["no rollout record (ledger note)"]
    assert "oncology/tumor-malignancy" in lacking  # only a failed rollout: no serving evidence
    assert doc["summary"]["incidents"] == len(doc["incidents"])


def test_period_and_tenant_filters(history: History) -> None:
    doc = _json(history, "--since", "2026-02-15", "--tenant", "oncology")
    assert [m["id"] for m in doc["inventory"]["models"]] == ["oncology/tumor-malignancy"]
    assert [c["commit"] for c in doc["changes"]] == [history.shas["tumor"]]
    assert all(w["model"] in ("oncology/tumor-malignancy", "*") for w in doc["policy_exceptions"])
    assert doc["period"]["since"] == "2026-02-15T00:00:00+00:00"
    unknown = govops("-C", str(history.path), "report", "--tenant", "nobody")
    assert unknown.returncode == 2 and "tenant 'nobody' has no models" in unknown.stderr


def test_markdown(history: History) -> None:
    md = govops("-C", str(history.path), "report", "--format", "md").stdout
    assert md.startswith("# govops compliance report")
    assert "## Policy exceptions (waivers)" in md and "| GOV-THR-001 | lab/iris-species |" in md
    assert "## Models lacking required evidence" in md


def test_html_is_self_contained(history: History, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = govops("-C", str(history.path), "report", "--out", str(out))
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 3 and "<script" not in html
    assert re.findall(r"(?:src|href)=", html) == []  # nothing loaded from anywhere
    assert set(re.findall(r"https?://[^\"' <]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "Changes in the period" in html and "lee.lead" in html


def _png_is_blank(png: bytes) -> bool:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[: 200_000])) < 4


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_html_renders_in_headless_chromium(history: History, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert govops("-C", str(history.path), "report", "--out", str(out)).returncode == 0
    assert CHROMIUM is not None
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<table>" in dom.stdout and "GOV-THR-001" in dom.stdout and "<svg" in dom.stdout
    shot = tmp_path / "shot.png"
    res = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", out.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert not _png_is_blank(shot.read_bytes())
