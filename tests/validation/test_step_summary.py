"""``python -m runners ... --summary FILE``: the Markdown summary each Argo step publishes beside its result JSON.

The summary restates one result for people reading the run in the Argo UI: model, version,
check, verdict, metrics against thresholds, reasons and digests. It is written whenever the
result is (errors too), holds PR text only escaped and bounded, and the committed templates
declare it as an unarchived output artifact at exactly the path the step's argv names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from engine.spec.check_result import CheckResult, InputRef, Metric
from engine.validation.dag import ValidationTask
from engine.validation.workflow import (
    CHAMPION_TEMPLATE,
    CHECK_TEMPLATE,
    RESULT_ARTIFACT,
    SUMMARY_ARTIFACT,
    RunContext,
    pr_workflows,
)
from runners import summary
from runners.__main__ import main
from tests.helpers.runner_helpers import FEATURES, classification_data, write_repo

PROJECT = Path(__file__).resolve().parents[2]
EVIL = ("a|b <script>alert(1)</script> [x](http://evil.example) ![i](https://evil.example/i.png)"
        "\n# forged\nwww.evil.example")
URL_FEATURE = "see http://evil.example"  # a valid feature name (letters, space, : / .) that renderers would autolink


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    return write_repo(tmp_path_factory.mktemp("summary"), ref, ev, {"2.0.0": model})


def _run(tmp_path: Path, root: Path, *args: str) -> tuple[int, dict[str, Any], list[str]]:
    out, page = tmp_path / "r" / "result.json", tmp_path / "s" / "summary.md"
    rc = main([*args, "--repo", str(root), "--out", str(out), "--summary", str(page)])
    return rc, json.loads(out.read_text()), page.read_text().splitlines()


def _inputs(doc: dict[str, Any]) -> list[str]:
    rows = [f"| {i['role'].replace('_', chr(92) + '_')} | {i['uri']} | {i['sha256']} |" for i in doc["inputs"]]
    return ["## Inputs", "", "| Role | URI | sha256 |", "|---|---|---|", *rows]


def _metric_rows(doc: dict[str, Any], judged: str) -> list[str]:
    m = {x["name"]: x["value"] for x in doc["metrics"]}
    return [
        "| Metric | Scope | Value | Threshold | Held | Note |",
        "|---|---|---|---|---|---|",
        f"| accuracy | overall | {m['accuracy']:.4g} | {judged} |  |",
        f"| roc\\_auc | overall | {m['roc_auc']:.4g} | — | no threshold |  |",
        f"| f1 | overall | {m['f1']:.4g} | — | no threshold |  |",
        f"| log\\_loss | overall | {m['log_loss']:.4g} | — | no threshold |  |",
    ]


@pytest.mark.slow  # a trained model served by the check's prediction worker
@pytest.mark.parametrize(("threshold", "code", "status", "judged"),
                         [(0.5, 0, "pass", ">= 0.5 | yes"), (0.999, 1, "fail", ">= 0.999 | no")])
def test_pass_and_fail_summaries(repo: tuple[Path, str], tmp_path: Path, threshold: float, code: int, status: str,
                                 judged: str) -> None:
    root, spec = repo
    rc, doc, lines = _run(tmp_path, root, "performance", "--spec", spec, "--model", "t/m", "--version", "2.0.0",
                          "--thresholds", json.dumps({"min_accuracy": threshold}))
    assert (rc, doc["status"]) == (code, status)
    assert lines[:6] == [f"# performance: {status}", "", "- Model: t/m", "- Version: 2.0.0", "- Check: performance",
                         f"- Verdict: **{status}**"]
    assert lines[6] == "- Summary: " + summary.text(doc["summary"])
    assert lines[7:9] == ["", "## Metrics"]
    assert lines[10:16] == _metric_rows(doc, judged)
    assert lines[17:] == _inputs(doc)  # the data and model digests the check read
    assert not any(line.startswith("- Error") or line.startswith("- Champion") for line in lines)


def test_error_summaries_bad_spec_path_and_bad_thresholds(repo: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = repo
    rc, doc, lines = _run(tmp_path, root, "drift", "--spec", "specs/nope.yaml", "--model", "t/m")
    assert rc == 2 and doc["status"] == "error"
    assert lines == ["# drift: error", "", "- Model: t/m", "- Version: unknown", "- Check: drift",
                     "- Verdict: **error**", "- Summary: drift could not run: specs/nope.yaml: no such spec file",
                     "- Error: specs/nope.yaml: no such spec file"]
    rc, doc, lines = _run(tmp_path, root, "drift", "--spec", "specs/t/m.yaml", "--model", "t/m", "--thresholds", "[1,")
    assert rc == 2 and lines[5] == "- Verdict: **error**"
    assert lines[-1] == "- Error: " + summary.text(doc["error"]) and lines[-1].startswith("- Error: --thresholds: ")


def test_summary_and_out_must_differ_and_unwritable_summary_is_exit_2(repo: tuple[Path, str], tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root, spec = repo
    same = str(tmp_path / "x")
    with pytest.raises(SystemExit) as exc:
        main(["drift", "--spec", spec, "--model", "t/m", "--out", same, "--summary", same])
    assert exc.value.code == 2 and "--summary and --out must name different files" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    rc = main(["drift", "--spec", "specs/nope.yaml", "--model", "t/m", "--repo", str(root),
               "--out", str(tmp_path / "r.json"), "--summary", str(tmp_path / "file" / "s.md")])
    assert rc == 2 and "error: cannot write" in capsys.readouterr().err
    assert (tmp_path / "r.json").is_file()  # the result is still written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "r.json"]  # no temporary file left behind


def test_hostile_spec_text_comes_out_escaped(repo: tuple[Path, str], tmp_path: Path) -> None:
    root, _ = repo
    doc = yaml.safe_load((root / "specs" / "t" / "m.yaml").read_text())
    doc["metadata"]["description"] = EVIL
    doc["spec"]["interface"]["inputs"][1]["name"] = EVIL  # an invalid name: the error quotes it
    (root / "specs" / "t" / "evil.yaml").write_text(yaml.safe_dump(doc))
    rc, result, lines = _run(tmp_path, root, "drift", "--spec", "specs/t/evil.yaml", "--model", "t/m")
    assert rc == 2 and "<script>" in result["error"]  # the JSON keeps the text as it was
    page = "\n".join(lines)
    assert len(lines) == 8 and lines[-1].startswith("- Error: invalid spec: specs/t/evil.yaml:")
    _assert_inert(page)
    assert "\\<script\\>" in page and "\\[x\\]\\(http\\://evil.example\\)" in page and "www\\.evil" in page


def _assert_inert(page: str) -> None:
    """No raw HTML, link, image, autolink, heading or table break outside the page's own structure."""
    unescaped = re.sub(r"\\.", "", page)  # what is left once every backslash escape is taken out
    unescaped = re.sub(r"\| [<>]= ", "| ", unescaped)  # the threshold column's own operator
    for bad in ("<", ">", "](", "![", "://", "www.", "\n# forged"):
        assert bad not in unescaped, (bad, page)
    for line in page.splitlines():
        if line.startswith("|"):  # a table row keeps exactly its own columns
            assert len(re.findall(r"(?<!\\)\|", line)) in (4, 7), line


def test_hostile_result_fields_are_escaped_and_bounded() -> None:
    metrics = [Metric(EVIL, 0.5, 0.9, ">=", False, scope=EVIL, note=EVIL * 10) for _ in range(80)]
    result = CheckResult(EVIL, EVIL, EVIL, "fail", EVIL * 1000, metrics=metrics, champion=EVIL, error=EVIL * 1000,
                         inputs=[InputRef(EVIL, EVIL * 50, "0" * 64)] * 80)
    page = summary.render(result)
    _assert_inert(page)
    assert len(page) <= summary.MAX_CHARS and page.endswith("\n(cut here: see the result JSON)\n")
    assert max(len(line) for line in page.splitlines()) < 2 * summary.MAX_TEXT + 200

    short = CheckResult("drift", "t/m", "1", "pass", "ok", metrics=[Metric(f"m{i}", 0.1) for i in range(80)],
                        inputs=[InputRef("data", f"d{i}.csv", "0" * 64) for i in range(80)])
    lines = summary.render(short).splitlines()
    assert sum(line.startswith("| m") for line in lines) == sum(line.startswith("| data") for line in lines) == 50
    assert "30 more metrics in the result JSON." in lines and "30 more inputs in the result JSON." in lines


def test_a_url_shaped_feature_name_is_not_autolinked(tmp_path: Path) -> None:
    ref, ev = classification_data(300, 1), classification_data(200, 2)
    model = LogisticRegression(max_iter=500).fit(ref[FEATURES].to_numpy(), ref["y"])
    ref, ev = ref.rename(columns={"x3": URL_FEATURE}), ev.rename(columns={"x3": URL_FEATURE})
    inputs: list[dict[str, Any]] = [{"name": c, "type": "float"} for c in [*FEATURES[:3], URL_FEATURE]]
    root, spec = write_repo(tmp_path / "repo", ref, ev, {"2.0.0": model}, inputs=inputs)
    rc, doc, lines = _run(tmp_path, root, "drift", "--spec", spec, "--model", "t/m", "--version", "2.0.0")
    assert doc["status"] in ("pass", "fail") and rc in (0, 1)
    assert any(m["scope"] == URL_FEATURE for m in doc["metrics"])  # the feature name reached the result ...
    assert any("see http\\://evil.example" in line for line in lines)  # ... and the summary, escaped
    _assert_inert("\n".join(lines))


def _check_steps(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifest["spec"]["templates"] if t["name"] in (CHECK_TEMPLATE, CHAMPION_TEMPLATE)}


def _assert_artifacts_match_argv(step: dict[str, Any]) -> None:
    args = step["container"]["args"]
    arts = {a["name"]: a for a in step["outputs"]["artifacts"]}
    assert set(arts) == {RESULT_ARTIFACT, SUMMARY_ARTIFACT}
    assert arts[RESULT_ARTIFACT]["path"] == args[args.index("--out") + 1] == "/tmp/result.json"
    assert arts[SUMMARY_ARTIFACT]["path"] == args[args.index("--summary") + 1] == "/tmp/summary.md"
    assert all(a["archive"] == {"none": {}} for a in arts.values())  # the UI and the server read them as is


def test_committed_templates_declare_both_artifacts_at_the_argv_paths() -> None:
    files = sorted((PROJECT / "argo").glob("workflowtemplate-*.yaml"))
    assert len(files) >= 3
    for path in files:
        manifest = yaml.safe_load(path.read_text())
        steps = _check_steps(manifest)
        assert set(steps) == {CHECK_TEMPLATE, CHAMPION_TEMPLATE}, path
        for step in steps.values():
            _assert_artifacts_match_argv(step)


def test_inline_pr_workflow_declares_both_artifacts() -> None:
    tasks = [ValidationTask("t/m", "performance", "specs/t/m.yaml", "2.0.0", None, {"min_accuracy": 0.5}),
             ValidationTask("t/m", "champion", "specs/t/m.yaml", "2.0.0", "1.0.0", {})]
    manifest = pr_workflows(tasks, RunContext(head_sha="abcdef1"))[0].to_dict()
    steps = _check_steps(manifest)
    assert set(steps) == {CHECK_TEMPLATE, CHAMPION_TEMPLATE}
    for step in steps.values():
        _assert_artifacts_match_argv(step)


@pytest.mark.slow  # worker processes
def test_local_executor_is_unaffected(repo: tuple[Path, str], tmp_path: Path) -> None:
    from engine.validation.executors.local import run_validation

    root, spec = repo
    task = ValidationTask("t/m", "performance", spec, "2.0.0", None, {"min_accuracy": 0.5})
    run = run_validation(root, [task], tmp_path / "out", jobs=1, timeout_s=120)
    assert run.ok and run.results[0]["status"] == "pass"
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "t/m/performance.json" in files and "summary.json" in files
    assert not [f for f in files if f.endswith(".md")]  # summaries are the Argo step's, not the local run's
