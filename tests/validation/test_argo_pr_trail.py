"""``pr-check --executor argo`` end to end: statuses land on the steps, the run's identity reaches the trail.

A real Git repository and real Rego, the local Argo Server stand-in holding the committed argo/
templates, and a local server answering like GitHub.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.audit.compliance_render import _argo_cells
from engine.audit.evidence import links_of
from engine.audit.pr_evidence import argo_runs, build_evidence
from engine.audit.timeline_render import _trail
from engine.cli import main
from tests.helpers.argo_fake_server import ArgoServer, FakeArgo
from tests.helpers.fake_github import FakeGitHub, review
from tests.report.test_pr_check import RUN_URL, actions_env, pr_repo, tighten_wine
from tests.validation.test_argo_templates_by_reference import committed

ARGO_TOKEN = "argo-t0ken-not-to-be-seen"


@pytest.mark.slow
def test_pr_check_on_argo_links_each_step_and_records_the_run(tmp_path: Path, monkeypatch, capsys) -> None:
    repo, base, head = pr_repo(tmp_path, tighten_wine("0.8"))
    fake = FakeArgo()
    fake.install(*committed())
    with FakeGitHub() as gh, ArgoServer(fake) as argo:
        actions_env(monkeypatch, tmp_path, gh, base, head, author="ivan.ds")
        for k in ("GOVOPS_VALIDATOR_IMAGE", "GOVOPS_ARGO_SERVICE_ACCOUNT", "GOVOPS_ARGO_GIT_SECRET",
                  "GOVOPS_ARGO_GITHUB_SECRET", "GOVOPS_ARGO_SUBMISSION"):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("GOVOPS_ARGO_SERVER", argo.url)
        monkeypatch.setenv("GOVOPS_ARGO_TOKEN", ARGO_TOKEN)
        monkeypatch.setenv("GOVOPS_ARGO_NAMESPACE", "argo")
        gh.reviews[7] = [review("jo.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
        rc = main(["-C", str(repo.path), "pr-check", "--executor", "argo", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 0, err
    create = next(r for r in fake.requests if r["method"] == "POST")
    wf = create["body"]["workflow"]
    assert wf["metadata"]["labels"]["govops.dev/submission"] == "by-reference"
    assert wf["metadata"]["labels"]["govops.dev/head-sha"] == head
    name = next(iter(fake.workflows))
    uid = fake.workflows[name]["metadata"]["uid"]
    run_page = f"{argo.url}/workflows/argo/{name}"

    doc = json.loads((tmp_path / "out" / "pr-check.json").read_text())
    statuses = {s["context"]: s for s in doc["statuses"]}
    assert statuses["govops/policy"]["target_url"] == RUN_URL  # policy never runs in Argo: the CI run
    assert statuses["govops/validation"]["target_url"] == run_page
    for check in ("performance", "data_quality"):
        url = statuses[f"govops/beverages/wine-cultivar/{check}"]["target_url"]
        assert url.startswith(f"{run_page}?nodeId={name}-") and url.endswith("-0")  # the step's pod node
    assert doc["run_url"] == RUN_URL
    assert doc["validation"]["argo"] == [{
        "name": name, "namespace": "argo", "uid": uid, "url": run_page, "phase": "Succeeded",
        "submission": "by-reference", "templates": json.loads(wf["metadata"]["annotations"]["govops.dev/templates"]),
    }]
    assert ARGO_TOKEN not in json.dumps(doc) and ARGO_TOKEN not in err
    assert f"[Argo run `{name}`]({run_page})" in (tmp_path / "out" / "summary.md").read_text()

    # the evidence (then the ledger, `audit` and the compliance report) keeps the run's identity
    record = build_evidence(repo.path, doc, env={"GITHUB_SERVER_URL": "https://github.com",
                                                 "GITHUB_REPOSITORY": "acme/models", "GITHUB_RUN_ID": "99"})
    links = record["evidence"]["links"]
    assert links["ci_run"] == RUN_URL and links["argo"] == [run_page]
    assert links["argo_runs"][0]["name"] == name and links["argo_runs"][0]["uid"] == uid
    assert all(r["argo"]["workflow"] == name and "nodeId=" in r["argo"]["url"]
               for r in record["evidence"]["validation"])
    shown = links_of({"evidence": record["evidence"]})
    assert f"argo/{name} (uid {uid}) {run_page}" in _trail({"links": shown})
    assert _argo_cells({"argo_runs": shown["argo_runs"]}) == [f"argo/{name} (uid {uid}) {run_page}"]


def test_recorded_run_identity_keeps_only_strings() -> None:
    runs = argo_runs([{"name": "wf", "namespace": "argo", "uid": 7, "url": "https://a/workflows/argo/wf",
                       "templates": {"t": "d"}, "extra": {"x": 1}}, "junk", {"no": "name"}])
    assert runs == [{"name": "wf", "namespace": "argo", "url": "https://a/workflows/argo/wf", "templates": {"t": "d"}}]


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["missing", "drifted", "401"])
def test_pr_check_on_a_cluster_that_cannot_run_this_commit_fails_closed(tmp_path: Path, monkeypatch, capsys,
                                                                        broken: str) -> None:
    repo, base, head = pr_repo(tmp_path, tighten_wine("0.8"))
    fake = FakeArgo()
    fake.install(*committed())
    if broken == "missing":
        fake.templates.clear()
    elif broken == "drifted":
        for doc in fake.templates.values():
            doc["metadata"]["labels"]["govops.dev/template-digest"] = "0123456789abcdef"
    else:
        fake.auth_status = 401
    with FakeGitHub() as gh, ArgoServer(fake) as argo:
        actions_env(monkeypatch, tmp_path, gh, base, head, author="ivan.ds")
        for k in ("GOVOPS_VALIDATOR_IMAGE", "GOVOPS_ARGO_SUBMISSION"):
            monkeypatch.delenv(k, raising=False)
        monkeypatch.setenv("GOVOPS_ARGO_SERVER", argo.url)
        monkeypatch.setenv("GOVOPS_ARGO_TOKEN", ARGO_TOKEN)
        gh.reviews[7] = [review("jo.lead", "APPROVED", "2026-11-20T11:00:00Z", commit=head)]
        rc = main(["-C", str(repo.path), "pr-check", "--executor", "argo"])
        statuses = gh.statuses()
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    expected = {"missing": "kubectl apply -k argo/", "drifted": "kubectl apply -k argo/", "401": "GOVOPS_ARGO_TOKEN"}
    assert expected[broken] in err
    final = {s["context"]: s["state"] for s in statuses}  # the last status per context wins
    assert final["govops/validation"] == "error" and "success" not in final.values()
    assert not any(r["method"] == "POST" for r in fake.requests)  # nothing ran on templates not this commit's
