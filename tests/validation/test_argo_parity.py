"""Parity: the local executor and the rendered Argo workflow run the same tasks and produce the same result files.

The Argo side runs against the local Argo Server stand-in, which executes each DAG task's
argv exactly as the pod would receive it (``python -m runners …`` in the repository
checkout), so both sides run the real checks on the real example data.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.spec.settings import Settings
from engine.spec.workspace import load_workspace
from engine.validation.dag import build_dag
from engine.validation.executors.argo import run_validation_argo
from tests.conftest import copy_example_repo
from tests.helpers.argo_fake_server import ArgoServer, FakeArgo

SHA = "89abcdef0123456789abcdef0123456789abcdef"
MODELS = ("beverages/wine-cultivar", "lab/iris-species")


@pytest.mark.slow  # runs every check twice, for real
def test_local_and_argo_write_the_same_result_files(tmp_path: Path) -> None:
    local_mod = pytest.importorskip("engine.validation.executors.local", reason="the local executor is not there yet")
    repo = copy_example_repo(tmp_path / "repo", git=False)
    ws = load_workspace(repo)
    tasks = build_dag([s for s in ws.specs if s.id in MODELS], ws.config)
    assert len(tasks) >= 5

    counter = itertools.count()

    # the pod's working directory is the PR's checkout: a runners/ package committed there must
    # never shadow the installed one (the step runs `python -I -m runners`)
    marker = tmp_path / "shadow-ran"
    (repo / "runners").mkdir()
    (repo / "runners" / "__init__.py").write_text("")
    (repo / "runners" / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('forged')\n")

    def pod(argv: list[str]) -> tuple[int, bytes | None]:
        assert argv[:4] == ["python", "-I", "-m", "runners"]
        out = tmp_path / "pods" / f"{next(counter)}" / "result.json"  # each pod has its own /tmp
        out.parent.mkdir(parents=True)
        args = list(argv)
        args[args.index("--out") + 1] = str(out)  # /tmp/result.json inside the pod
        args[args.index("--summary") + 1] = str(out.with_name("summary.md"))  # /tmp/summary.md inside the pod
        proc = subprocess.run([sys.executable, *args[1:]], cwd=repo, capture_output=True, timeout=300)
        return proc.returncode, out.read_bytes() if out.exists() else None

    local = local_mod.run_validation(repo, tasks, tmp_path / "local", jobs=2, timeout_s=300)
    settings = Settings(argo_server=None, argo_token=None, argo_namespace="argo", validator_image="img:1",
                        argo_submission="inline")
    with ArgoServer(FakeArgo(executor=pod)) as server:
        argo = run_validation_argo(
            repo, tasks, tmp_path / "argo", head_sha=SHA, server=server.url, token="t",
            settings=settings, poll_interval_s=0.05, timeout_s=600,
        )

    def files(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))

    assert files(tmp_path / "local") == files(tmp_path / "argo")
    assert not marker.exists()
    profiles = {f"{t.model}/profile-{t.version}.json" for t in tasks}  # one reference profile per validated version
    assert len(files(tmp_path / "argo")) == len(tasks) + 1 + len(profiles)
    for task in tasks:
        rel = Path(*task.model.split("/")) / f"{task.check}.json"
        a = json.loads((tmp_path / "local" / rel).read_text())
        b = json.loads((tmp_path / "argo" / rel).read_text())
        assert (a["status"], a["version"], a.get("champion")) == (b["status"], b["version"], b.get("champion")), rel
        assert [(m["name"], m["value"]) for m in a["metrics"]] == [(m["name"], m["value"]) for m in b["metrics"]], rel
    assert local.ok == argo.ok
    assert local.counts == argo.counts
