"""Submission to an Argo Server (a local HTTP server speaking the REST paths hera calls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.spec.errors import InputError
from engine.spec.settings import Settings
from engine.spec.workspace import load_workspace
from engine.validation.dag import ValidationTask, build_dag
from engine.validation.executors.argo import ArgoError, run_validation_argo
from engine.validation.workflow import RunContext, WorkflowOptions, pr_workflows
from tests.helpers.argo_fake_server import ArgoServer, FakeArgo, default_executor

PROJECT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # each test starts a local HTTP server
SHA = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "s3cr3t-token"


@pytest.fixture(scope="module")
def tasks() -> list[ValidationTask]:
    ws = load_workspace(PROJECT)
    specs = [s for s in ws.specs if s.id in ("lab/iris-species", "clinical/disease-progression")]
    return build_dag(specs, ws.config)


def _settings(**env: str) -> Settings:
    # explicit values: the tests never depend on the caller's GOVOPS_* environment
    # these tests are about the inline submission (by reference: test_argo_templates_by_reference.py)
    base = {"argo_server": None, "argo_token": None, "argo_namespace": "argo", "validator_image": "img:1",
            "argo_submission": "inline"}
    base.update(env)
    return Settings(**base)  # type: ignore[arg-type]


def _run(server: ArgoServer, tasks: list[ValidationTask], out: Path, **kw: object):  # type: ignore[no-untyped-def]
    lines: list[str] = []
    kw.setdefault("poll_interval_s", 0.01)
    kw.setdefault("timeout_s", 10)
    run = run_validation_argo(
        PROJECT,
        tasks,
        out,
        head_sha=SHA,
        server=server.url,
        token=TOKEN,
        repository="octo/gitops",
        pr_number=7,
        log=lines.append,
        settings=_settings(),
        **kw,  # type: ignore[arg-type]
    )
    return run, lines


def test_submit_wait_collect_exact_requests(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo(polls_before_done=2)) as server:
        run, lines = _run(server, tasks, tmp_path / "out")
    reqs = server.fake.requests
    # 1) list (attach to an identical run?), 2) create, 3+) get until finished, then artifacts
    assert [r["method"] for r in reqs[:2]] == ["GET", "POST"]
    assert reqs[0]["path"] == "/api/v1/workflows/argo"
    selector = reqs[0]["query"]["listOptions.labelSelector"]
    assert selector.startswith(f"govops.dev/head-sha={SHA},govops.dev/tasks-digest=")
    assert selector.endswith(",govops.dev/part=1-of-1")
    create = reqs[1]
    assert create["path"] == "/api/v1/workflows/argo"
    assert create["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert create["headers"]["content-type"] == "application/json"
    expected = pr_workflows(
        tasks,
        RunContext(repository="octo/gitops", pr_number=7, head_sha=SHA, argo_ui=server.url),
        WorkflowOptions(image="img:1"),
    )[0].to_dict()
    assert create["body"] == {"workflow": expected}
    wf = create["body"]["workflow"]
    assert wf["metadata"]["generateName"] == "govops-pr-7-0123456-"
    assert wf["metadata"]["labels"]["govops.dev/head-sha"] == SHA
    assert wf["metadata"]["labels"]["govops.dev/pr"] == "7"
    assert wf["metadata"]["labels"]["govops.dev/repository"] == "octo.gitops"
    assert wf["metadata"]["annotations"]["govops.dev/repository"] == "octo/gitops"
    assert TOKEN not in json.dumps(create["body"])
    name = "govops-pr-7-0123456-00001"
    gets = [r for r in reqs if r["method"] == "GET" and r["path"] == f"/api/v1/workflows/argo/{name}"]
    assert len(gets) == 2
    arts = [r["path"] for r in reqs if r["path"].startswith("/artifacts/")]
    assert len(arts) == len(tasks)
    assert all(p.startswith(f"/artifacts/argo/{name}/{name}-") and p.endswith("-0/result") for p in arts)
    # results: one file per task in the local executor's layout, plus summary.json
    assert run.ok
    files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.json"))
    profiles = {f"{t.model}/profile-{t.version}.json" for t in tasks}  # reference profiles, as locally
    assert files == sorted([f"{t.model}/{t.check}.json" for t in tasks] + ["summary.json", *profiles])
    summary = json.loads(run.summary_path.read_text())
    assert summary["executor"] == "argo" and summary["ok"] is True
    assert summary["workflows"] == [{"name": name, "url": f"{server.url}/workflows/argo/{name}", "phase": "Succeeded"}]
    assert f"argo: submitted {name}: {server.url}/workflows/argo/{name}" in lines
    assert run.ui_urls == [f"{server.url}/workflows/argo/{name}"]


def test_failed_check_and_missing_result(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    def executor(argv: list[str]) -> tuple[int, bytes | None]:
        check = argv[argv.index("runners") + 1]
        if check == "drift":  # failed on its merits: a result with status fail, exit 1
            code, raw = default_executor(argv)
            doc = json.loads(raw or b"{}")
            doc["status"] = "fail"
            return 1, json.dumps(doc).encode()
        if check == "fit":  # the pod died: no result file at all
            return 137, None
        return default_executor(argv)

    with ArgoServer(FakeArgo(executor=executor)) as server:
        run, _ = _run(server, tasks, tmp_path / "out")
    assert not run.ok
    by = {(r["model"], r["check"]): r for r in run.results}
    assert by[("clinical/disease-progression", "drift")]["status"] == "fail"
    fit = by[("clinical/disease-progression", "fit")]
    assert fit["status"] == "error" and "exit code 137" in fit["summary"]
    assert by[("lab/iris-species", "performance")]["status"] == "pass"
    summary = json.loads(run.summary_path.read_text())
    assert summary["workflows"][0]["phase"] == "Failed"
    assert summary["counts"]["fail"] == 2 and summary["counts"]["error"] == 2  # two models x (drift, fit)


def test_attaches_to_an_identical_run_instead_of_submitting_twice(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo()) as server:
        _run(server, tasks, tmp_path / "a")
        before = len([r for r in server.fake.requests if r["method"] == "POST"])
        _, lines = _run(server, tasks, tmp_path / "b")
        after = len([r for r in server.fake.requests if r["method"] == "POST"])
    assert before == after == 1
    assert any(line.startswith("argo: attaching to govops-pr-7-0123456-00001") for line in lines)


def test_shell_metacharacters_reach_the_step_verbatim(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    nasty = "specs/lab/iris $(touch /tmp/pwned) ; rm -rf ~ `id` | cat > x & $HOME \\ 'q' \"d\".yaml"
    t = tasks[0]
    odd = ValidationTask(t.model, t.check, nasty, t.version, t.champion, {"min_accuracy": 0.5})
    with ArgoServer(FakeArgo()) as server:
        run, _ = _run(server, [odd], tmp_path / "out")
    argv = server.fake.argvs[0]
    assert argv[:4] == ["python", "-I", "-m", "runners"]  # no sh -c anywhere
    assert argv[argv.index("--spec") + 1] == nasty  # one argv item, byte for byte
    assert json.loads(argv[argv.index("--thresholds") + 1]) == {"min_accuracy": 0.5}
    assert run.ok


def test_missing_token_is_a_clear_error(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with pytest.raises(InputError, match="GOVOPS_ARGO_TOKEN"):
        run_validation_argo(
            PROJECT, tasks, tmp_path, head_sha=SHA, server="http://127.0.0.1:9", settings=_settings()
        )
    with pytest.raises(InputError, match="GOVOPS_ARGO_SERVER"):
        run_validation_argo(PROJECT, tasks, tmp_path, head_sha=SHA, token="t", settings=_settings())


def test_token_and_server_come_from_the_environment(
    tmp_path: Path, tasks: list[ValidationTask], monkeypatch: pytest.MonkeyPatch
) -> None:
    with ArgoServer(FakeArgo()) as server:
        monkeypatch.setenv("GOVOPS_ARGO_SERVER", server.url)
        monkeypatch.setenv("GOVOPS_ARGO_TOKEN", "env-token")
        monkeypatch.setenv("GOVOPS_ARGO_NAMESPACE", "ml-validation")
        monkeypatch.setenv("GOVOPS_VALIDATOR_IMAGE", "registry.example/validator:9.9.9")
        monkeypatch.setenv("GOVOPS_ARGO_SUBMISSION", "inline")
        run = run_validation_argo(PROJECT, tasks[:1], tmp_path, head_sha=SHA, poll_interval_s=0.01, timeout_s=10)
    create = next(r for r in server.fake.requests if r["method"] == "POST")
    assert create["path"] == "/api/v1/workflows/ml-validation"
    assert create["headers"]["authorization"] == "Bearer env-token"
    images = {t["container"]["image"] for t in create["body"]["workflow"]["spec"]["templates"] if "container" in t}
    assert "registry.example/validator:9.9.9" in images
    assert run.ui_urls[0].startswith(f"{server.url}/workflows/ml-validation/")


def test_server_500_on_create(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo(create_status=500)) as server:
        with pytest.raises(ArgoError, match=r"creating the workflow failed: .*500.*etcdserver: request timed out"):
            _run(server, tasks, tmp_path / "out")


def test_server_500_while_waiting(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    fake = FakeArgo(get_status=500)
    with ArgoServer(fake) as server:
        with pytest.raises(ArgoError, match="reading workflow govops-pr-7-0123456-00001 failed"):
            _run(server, tasks, tmp_path / "out")


def test_unauthorized_names_the_token(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo(create_status=401)) as server:
        with pytest.raises(ArgoError, match="GOVOPS_ARGO_TOKEN"):
            _run(server, tasks, tmp_path / "out", reuse=False)


def test_unreachable_server(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo()) as server:
        url = server.url
    with pytest.raises(ArgoError, match="ConnectionError"):
        run_validation_argo(
            PROJECT, tasks, tmp_path, head_sha=SHA, server=url, token="t", settings=_settings(), timeout_s=1
        )


def test_timeout_names_the_run(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo(never_finish=True)) as server:
        with pytest.raises(ArgoError, match=r"timed out after 0.3 s .*workflows/argo/govops-pr-7-0123456-00001"):
            _run(server, tasks, tmp_path / "out", timeout_s=0.3)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_workflow_deleted_mid_run(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo(never_finish=True, delete_after_polls=2)) as server:
        with pytest.raises(ArgoError, match="govops-pr-7-0123456-00001 was deleted while it ran"):
            _run(server, tasks, tmp_path / "out")


def test_wrong_head_sha_is_refused(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    other = "f" * 40
    with ArgoServer(FakeArgo(head_sha_override=other)) as server:
        with pytest.raises(ArgoError, match=f"head-sha label is '{other}'.*PR's head commit is '{SHA}'"):
            _run(server, tasks, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_result_for_another_model_is_not_trusted(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    def executor(argv: list[str]) -> tuple[int, bytes | None]:
        code, raw = default_executor(argv)
        doc = json.loads(raw or b"{}")
        doc["model"] = "someone/else"
        return code, json.dumps(doc).encode()

    with ArgoServer(FakeArgo(executor=executor)) as server:
        run, _ = _run(server, tasks[:1], tmp_path / "out")
    assert not run.ok
    assert run.results[0]["status"] == "error"
    assert "expected 'clinical/disease-progression'" in run.results[0]["summary"]


def test_split_workflows_are_all_submitted_and_collected(tmp_path: Path, tasks: list[ValidationTask]) -> None:
    with ArgoServer(FakeArgo()) as server:
        run, _ = _run(server, tasks, tmp_path / "out", options=WorkflowOptions(image="img:1", max_tasks_per_workflow=8))
    creates = [r for r in server.fake.requests if r["method"] == "POST"]
    assert len(creates) == 2 == len(run.workflows)
    parts = [c["body"]["workflow"]["metadata"]["labels"]["govops.dev/part"] for c in creates]
    assert parts == ["1-of-2", "2-of-2"]
    assert len(run.results) == len(tasks)
