"""``govops docs``: model cards from the spec and the recorded evidence (Markdown, JSON, HTML in Chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.audit.model_card import SECTIONS
from tests.audit.test_compliance_report import CHROMIUM, _png_is_blank
from tests.helpers.audit_helpers import History, build_history, govops

IRIS = "lab/iris-species"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """The audit history, plus a rollout record carrying a real explainability result of iris 1.1.0."""
    from engine.audit.ledger import _RESULT_KEYS, append_record, build_record
    from engine.rollout.desired import load_desired
    from runners.runner import run_check

    h = build_history(tmp_path_factory.mktemp("card") / "repo")
    head = h.git("rev-parse", "HEAD")
    result = run_check(h.path, "explainability", spec_file="specs/lab/iris.yaml", version="1.1.0", champion="1.0.0",
                       thresholds={}, cache_dir=None)
    assert result.status == "pass", result.summary
    out = h.path.parent / "results"
    result.write(out / "lab.iris-species" / "explainability.json")
    state = load_desired(h.path, head)
    doc = result.to_json()
    record = build_record(target="local", ref="main", commit=head, digest=state.digest, previous_digest=None,
                          result={"outcome": "succeeded", "changes": [{"action": "load", "model": IRIS,
                                                                        "version": "1.1.0", "role": "champion"}]},
                          evidence={"validation": [{k: doc[k] for k in _RESULT_KEYS}],
                                    "context": {"approvals": [{"approver": "rita.risk", "group": "risk"}]}})
    record["recorded"] = "2026-03-03T10:00:00Z"
    append_record(h.path, head, record)
    h.shas["explained"] = head
    return h


def _card(h: History, *extra: str) -> subprocess.CompletedProcess[str]:
    return govops("-C", str(h.path), "docs", IRIS, *extra)


@pytest.mark.slow
def test_every_section_and_every_missing_fact_is_shown(history: History) -> None:
    res = _card(history, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [s["key"] for s in doc["sections"]] == [k for k, _, _ in SECTIONS]
    facts = {s["key"]: s["facts"] for s in doc["sections"]}
    # missing facts are present, flagged, and say why
    assert facts["caveats"]["limitations"]["value"] is None
    assert "metadata.limitations" in facts["caveats"]["limitations"]["missing"]
    assert facts["fairness"]["status"]["value"] is None  # the medium tier runs no bias check
    assert facts["monitoring"]["current health"]["missing"].startswith("no health measured")
    # figures link to the commit and record they came from
    imp = facts["explainability"]["permutation importance"]
    assert set(imp["value"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert imp["source"]["commit"] == history.shas["explained"] and imp["source"]["kind"] == "rollout"
    assert imp["source"]["recorded"] == "2026-03-03T10:00:00Z"
    assert facts["approvals"]["approvers"]["value"] == ["rita.risk (risk)"]
    perf = facts["quantitative"]["claimed offline metrics"]
    assert perf["source"] == {"kind": "spec", "file": "specs/lab/iris.yaml", "path": "spec.versions[1].metrics",
                              "commit": doc["commit"], "label": "specs/lab/iris.yaml: spec.versions[1].metrics"}
    rollouts = facts["deployments"]["rollouts"]["value"]
    assert [r["link"]["commit"] for r in rollouts][:1] == [history.shas["merge"]]
    assert facts["details"]["artifact sha256"]["value"] == doc_sha(history)


def doc_sha(h: History) -> str:
    text = (h.path / "specs/lab/iris.yaml").read_text()
    return re.findall(r"sha256: ([0-9a-f]{64})", text[text.index("id: 1.1.0"):])[0]


def test_markdown_card(history: History) -> None:
    md = _card(history).stdout
    assert md.startswith("# Model card: lab/iris-species 1.1.0")
    for _, heading, _ in SECTIONS:
        assert f"\n## {heading}\n" in md
    assert "**limitations**: **missing**: no limitations written" in md
    assert "## Sources" in md and history.shas["explained"][:12] in md


@pytest.mark.slow
def test_a_version_and_a_model_that_do_not_exist(history: History) -> None:
    res = _card(history, "--version", "9.9.9")
    assert res.returncode == 2 and "has no version '9.9.9' (declared: 1.0.0, 1.1.0)" in res.stderr
    res = govops("-C", str(history.path), "docs", "lab/nope")
    assert res.returncode == 2 and "no model 'lab/nope'" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_results_are_used_only_for_the_governed_bytes(history: History, tmp_path: Path) -> None:
    results = history.path.parent / "results"
    doc = json.loads(_card(history, "--format", "json", "--results", str(results)).stdout)
    pd_ = next(s for s in doc["sections"] if s["key"] == "explainability")["facts"]["partial dependence"]
    assert pd_["value"] and pd_["source"]["kind"] == "result"
    forged = tmp_path / "forged"
    shutil.copytree(results, forged)
    path = forged / "lab.iris-species" / "explainability.json"
    data = json.loads(path.read_text())
    for i in data["inputs"]:
        i["sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    doc = json.loads(_card(history, "--format", "json", "--results", str(forged)).stdout)
    pd_ = next(s for s in doc["sections"] if s["key"] == "explainability")["facts"]["partial dependence"]
    assert pd_["value"] is None and "missing" in pd_


def test_html_is_self_contained(history: History, tmp_path: Path) -> None:
    out = tmp_path / "card.html"
    res = _card(history, "--format", "html", "--results", str(history.path.parent / "results"), "--out", str(out))
    assert res.returncode == 0, res.stderr
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert re.findall(r"src=", html) == [] and all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))
    assert html.count("<svg") >= 2  # importance bars and partial dependence curves


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_card_renders_in_headless_chromium_with_every_section(history: History, tmp_path: Path) -> None:
    out = tmp_path / "card.html"
    assert _card(history, "--format", "html", "--results", str(history.path.parent / "results"),
                 "--out", str(out)).returncode == 0
    assert CHROMIUM is not None
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for key, heading, _ in SECTIONS:
        assert f'<section id="{key}"><h2>{heading}</h2>' in dom.stdout
    assert "<svg" in dom.stdout and 'class="missing"' in dom.stdout
    shot = tmp_path / "shot.png"
    res = subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,2400", out.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    assert not _png_is_blank(shot.read_bytes())
