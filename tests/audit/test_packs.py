"""Regulation packs: lint errors at file:line:col, the production-rollout gate, the base's pack, the pack report.

Real Git repositories, real Rego (the default library), the shipped packs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.policy.packs import load_packs, parse_pack
from tests.helpers.audit_helpers import build_history, govops, rollout_note
from tests.helpers.pr_helpers import PROJECT, GitRepo, example_repo

TRIAGE = "specs/clinical/readmission-triage.yaml"
NOW = "2026-11-20T12:00:00+00:00"
PACK = """apiVersion: govops/v1
kind: RegulationPack
metadata:
  name: house
  title: House rules for documentation
  source: "an internal standard"
  published: "2026-11-01"
controls:
  - id: DOC-1
    ref: "section 1"
    title: Limitations written down
    text: The model's limitations and caveats are documented.
    evidence:
      - spec: metadata.limitations
      - check: performance
  - id: DOC-2
    ref: "section 2"
    title: Monitored
    text: Alert thresholds are declared.
    evidence:
      - monitoring: thresholds
"""


def test_shipped_packs_parse_and_cite_their_sections() -> None:
    packs, diags = load_packs(PROJECT / "policies" / "packs", "policies/packs")
    assert diags == []
    assert set(packs) == {"eu-ai-act", "sr-11-7"}
    eu, sr = packs["eu-ai-act"], packs["sr-11-7"]
    assert {"Annex IV, point 2(g)", "Annex IV, point 9", "Article 72(1)", "Article 72(2)", "Article 72(3)"} <= {
        c.ref for c in eu.controls}
    refs = " ".join(c.ref for c in sr.controls)
    for part in ("section IV", "Conceptual Soundness", "Ongoing Monitoring", "Outcomes Analysis", "Model Inventory"):
        assert part in refs
    assert all(c.evidence for p in packs.values() for c in p.controls)


# --- bad input: lint, exit 2, file:line:col ------------------------------------------------------

@pytest.fixture()
def lint_repo(tmp_path: Path) -> Path:
    from tests.conftest import copy_example_repo

    return copy_example_repo(tmp_path / "repo", git=False)


def _lint(root: Path) -> tuple[int, str]:
    res = govops("-C", str(root), "lint")
    assert "Traceback" not in res.stderr + res.stdout
    return res.returncode, res.stdout + res.stderr


def test_unknown_evidence_kind(lint_repo: Path) -> None:
    (lint_repo / "policies/packs/house.yaml").write_text(PACK.replace("- monitoring: thresholds",
                                                                      "- rumour: thresholds"))
    rc, out = _lint(lint_repo)
    assert rc == 2
    line = PACK.splitlines().index("      - monitoring: thresholds") + 1
    assert f"policies/packs/house.yaml:{line}:9: error: unknown evidence kind 'rumour'" in out
    assert "[pack/unknown-evidence-kind]" in out


def test_duplicate_control_id(lint_repo: Path) -> None:
    (lint_repo / "policies/packs/house.yaml").write_text(PACK.replace("id: DOC-2", "id: DOC-1"))
    rc, out = _lint(lint_repo)
    assert rc == 2
    line = PACK.splitlines().index("  - id: DOC-2") + 1
    assert f"policies/packs/house.yaml:{line}:5: error: control id 'DOC-1' is already used at line 9" in out


def test_control_needing_a_check_the_tier_does_not_run(lint_repo: Path) -> None:
    (lint_repo / "policies/packs/house.yaml").write_text(PACK.replace("check: performance", "check: backtest"))
    cfg = lint_repo / "govops.yaml"
    cfg.write_text(cfg.read_text().replace("    forbidSensitiveFeatures: true\n",
                                           "    forbidSensitiveFeatures: true\n    requirePacks: [house]\n"))
    rc, out = _lint(lint_repo)
    assert rc == 2
    line = PACK.splitlines().index("      - check: performance") + 1
    assert (f"policies/packs/house.yaml:{line}:9: error: control DOC-1 needs check 'backtest', which tier high "
            "(it requires this pack) does not run") in out


@pytest.mark.slow
def test_shipped_packs_name_checks_a_tier_must_run(lint_repo: Path) -> None:
    cfg = lint_repo / "govops.yaml"
    packs = "    forbidSensitiveFeatures: true\n    requirePacks: [eu-ai-act, sr-11-7]\n"
    cfg.write_text(cfg.read_text().replace("    forbidSensitiveFeatures: true\n", packs))
    rc, out = _lint(lint_repo)
    assert rc == 2 and "needs check 'explainability', which tier high" in out
    cfg.write_text(cfg.read_text().replace("serving_parity]", "serving_parity, explainability]"))
    rc, out = _lint(lint_repo)
    assert rc == 0, out


def test_model_with_no_evaluation_data(lint_repo: Path) -> None:
    spec = lint_repo / "specs/lab/iris-species.yaml"
    text = spec.read_text()
    start, end = text.index("  validation:"), text.index("  monitoring:")
    spec.write_text(text[:start] + text[end:])
    rc, out = _lint(lint_repo)
    assert rc == 2
    assert "specs/lab/iris-species.yaml:" in out and "declares no evaluation data" in out
    assert "[spec/no-evaluation-data]" in out
    finding = next(x for x in out.splitlines() if "no-evaluation-data" in x)
    file, lno, col = finding.split(":")[:3]
    assert text.splitlines()[int(lno) - 1].startswith("spec:") and col == "1"


def test_a_malformed_pack_never_crashes(tmp_path: Path) -> None:
    for raw in (b"- just a list\n", b"apiVersion: govops/v1\nkind: RegulationPack\n", b"\x00\xff", b"a: [\n"):
        pack, diags = parse_pack(raw, "p.yaml")
        assert pack is None and diags and all(d.file == "p.yaml" for d in diags)


# --- the rollout gate: judged by the base's pack --------------------------------------------------

@pytest.fixture()
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    monkeypatch.setenv("GOVOPS_NOW", NOW)
    repo = example_repo(tmp_path / "gitops", policies=True)
    repo.write("policies/packs/house.yaml", PACK)
    cfg = repo.read("govops.yaml").replace("    forbidSensitiveFeatures: true\n",
                                           "    forbidSensitiveFeatures: true\n    requirePacks: [house]\n")
    repo.write("govops.yaml", cfg)
    repo.commit("the high tier requires the house pack")
    repo.git("checkout", "-q", "-b", "feature")
    repo.replace(TRIAGE, "tags: [care-management, diabetes]", "tags: [care-management, diabetes, outreach]")
    return repo


def _check(repo: GitRepo) -> dict:
    out = repo.path / "check.json"
    main(["-C", str(repo.path), "check", "--base", "main", "--head", "HEAD", "--author", "dana.ds",
          "--approved-by", "rita.risk:risk", "--approved-by", "fay.lead", "--format", "json", "--out", str(out)])
    return json.loads(out.read_text())


def _pack_denials(report: dict) -> list[dict]:
    return [v for v in report["violations"] if v["rule"].startswith("GOV-PACK") and v["severity"] == "error"]


def test_missing_evidence_denies_the_production_rollout_and_adding_it_clears(gated: GitRepo) -> None:
    gated.commit("tag the model")
    [denial] = _pack_denials(_check(gated))
    assert denial["rule"] == "GOV-PACK-002" and denial["model"] == "clinical/readmission-triage"
    assert "DOC-1" in denial["message"] and "partial" in denial["message"]
    assert "spec:metadata.limitations" in denial["message"] and denial["file"] == TRIAGE
    gated.replace(TRIAGE, "  tags: [care-management, diabetes, outreach]\n",
                  "  tags: [care-management, diabetes, outreach]\n"
                  "  limitations: Not validated for patients under 18 or for type 1 diabetes.\n")
    gated.commit("document the limitations")
    assert _pack_denials(_check(gated)) == []


def test_a_change_cannot_weaken_the_pack_it_is_judged_by(gated: GitRepo) -> None:
    gated.replace("policies/packs/house.yaml", "      - spec: metadata.limitations\n", "")
    gated.replace("govops.yaml", "    requirePacks: [house]\n", "")
    gated.commit("tag the model, and quietly drop the control")
    denials = _pack_denials(_check(gated))
    assert [d["rule"] for d in denials] == ["GOV-PACK-002"]  # the base's pack and tier still judge


def test_lowering_the_tier_in_the_same_change_does_not_shed_the_pack(gated: GitRepo) -> None:
    gated.replace(TRIAGE, "  tier: high\n", "  tier: medium\n")
    gated.commit("tag the model, and call it medium risk")
    assert "GOV-PACK-002" in {d["rule"] for d in _pack_denials(_check(gated))}


def test_renaming_the_model_while_lowering_the_tier_does_not_shed_the_pack(gated: GitRepo) -> None:
    """Red-team finding: remove the high-tier spec and add the same model under a new id, tier medium."""
    body = gated.read(TRIAGE).replace("name: readmission-triage", "name: readmission-triage-v2")
    body = body.replace("  tier: high\n", "  tier: medium\n")
    gated.git("rm", "-q", "-f", TRIAGE)
    gated.write(TRIAGE.replace(".yaml", "-v2.yaml"), body)
    gated.commit("retire readmission-triage, add readmission-triage-v2 at medium risk")
    denials = _pack_denials(_check(gated))
    assert [(d["rule"], d["model"]) for d in denials] == [("GOV-PACK-002", "clinical/readmission-triage-v2")]


def test_whitespace_is_not_evidence(gated: GitRepo) -> None:
    gated.replace(TRIAGE, "  tags: [care-management, diabetes, outreach]\n",
                  "  tags: [care-management, diabetes, outreach]\n  limitations: ' '\n")
    gated.commit("tag the model, and a blank limitations field")
    assert "GOV-PACK-002" in {d["rule"] for d in _pack_denials(_check(gated))}


def test_a_required_pack_missing_from_the_base_is_denied(gated: GitRepo) -> None:
    gated.commit("tag the model")
    gated.git("checkout", "-q", "main")
    gated.git("rm", "-q", "policies/packs/house.yaml")
    gated.commit("drop the pack on main")
    gated.git("checkout", "-q", "feature")
    assert "GOV-PACK-001" in {d["rule"] for d in _pack_denials(_check(gated))}


# --- govops report --pack -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    import shutil

    h = build_history(tmp_path_factory.mktemp("packs") / "repo")
    shutil.copytree(PROJECT / "policies" / "packs", h.path / "policies" / "packs")
    h.commit("Regulation packs (#20)", "2026-03-05T09:00:00+00:00", who=("Rita Risk", "rita@example.com"))
    return h


@pytest.mark.slow
def test_report_pack_shows_covered_partial_missing_with_evidence_links(history) -> None:
    res = govops("-C", str(history.path), "report", "--pack", "sr-11-7", "lab/iris-species", "--format", "json")
    assert res.returncode == 1, res.stderr  # not every control is covered: a governance finding
    doc = json.loads(res.stdout)
    [model] = doc["models"]
    controls = {c["id"]: c for c in model["controls"]}
    merge = history.shas["merge"]
    # SR-DEV-2: data lineage in the spec, data_quality and leakage passed in the recorded rollout
    assert controls["SR-DEV-2"]["status"] == "covered"
    items = {i["key"]: i for i in controls["SR-DEV-2"]["items"]}
    assert items["check:data_quality"]["links"][0]["commit"] == merge
    # SR-GOV-4: policy decision and rollout records in the ledger, each linked to its record
    assert controls["SR-GOV-4"]["status"] == "covered"
    assert all(i["links"][0]["commit"] == merge for i in controls["SR-GOV-4"]["items"])
    # SR-GOV-3: limitations are not written: partial, and says which evidence is missing
    assert controls["SR-GOV-3"]["status"] == "partial"
    assert controls["SR-GOV-3"]["missing"] == ["spec:metadata.limitations"]
    # SR-VAL-1: no explainability result, no risk-group approval: missing entirely... or partial with leakage
    assert controls["SR-VAL-1"]["status"] in ("partial", "missing")
    md = govops("-C", str(history.path), "report", "--pack", "sr-11-7", "lab/iris-species", "--format", "md").stdout
    assert "| SR-GOV-3 |" in md and "**partial**" in md and merge[:12] in md


def test_report_pack_names_unknown_packs(history) -> None:
    res = govops("-C", str(history.path), "report", "--pack", "nist-rmf")
    assert res.returncode == 2 and "known: eu-ai-act, sr-11-7" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_recorded_evidence_clears_a_control(history, tmp_path: Path) -> None:
    """A new rollout recording an explainability result that passed turns SR-VAL-1's check item covered."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(history.path, repo)
    head = history.git("rev-parse", "HEAD")
    record = rollout_note(repo, head, "2026-03-06T10:00:00Z", version="1.1.0",
                          approvals=[{"approver": "rita.risk", "group": "risk"}])
    assert record["outcome"] == "succeeded"
    before = json.loads(govops("-C", str(history.path), "report", "--pack", "sr-11-7", "lab/iris-species",
                               "--format", "json").stdout)
    after = json.loads(govops("-C", str(repo), "report", "--pack", "sr-11-7", "lab/iris-species",
                              "--format", "json").stdout)

    def item(doc: dict, control: str, key: str) -> dict:
        c = next(c for c in doc["models"][0]["controls"] if c["id"] == control)
        return next(i for i in c["items"] if i["key"] == key)

    assert item(before, "SR-GOV-1", "approval:risk")["status"] == "missing"
    assert item(after, "SR-GOV-1", "approval:risk")["status"] == "covered"
    assert next(c for c in after["models"][0]["controls"] if c["id"] == "SR-GOV-1")["status"] == "covered"


@pytest.mark.slow
def test_card_pack_and_compliance_report_show_the_same_fact(history) -> None:
    """One evidence index: the approval of iris 1.1.0 is the same person and the same record everywhere."""
    merge = history.shas["merge"]
    report = json.loads(govops("-C", str(history.path), "report", "--format", "json").stdout)
    row = next(c for c in report["changes"] if c["commit"] == merge)
    card = json.loads(govops("-C", str(history.path), "docs", "lab/iris-species", "--format", "json").stdout)
    approvers = next(s for s in card["sections"] if s["key"] == "approvals")["facts"]["approvers"]
    pack = json.loads(govops("-C", str(history.path), "report", "--pack", "eu-ai-act", "lab/iris-species",
                             "--format", "json").stdout)
    approval = next(i for c in pack["models"][0]["controls"] for i in c["items"] if i["key"] == "approval:any")
    assert row["approvers"] == approvers["value"] == ["lee.lead"]
    assert approvers["source"]["commit"] == approval["links"][0]["commit"] == merge
    assert approval["status"] == "covered" and approval["note"] == "approved by lee.lead"
