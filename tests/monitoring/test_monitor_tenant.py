"""``govops monitor --tenant``: one model group per pass, as the per-tenant Argo CronWorkflows run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from tests.conftest import copy_example_repo

pytestmark = pytest.mark.slow  # copies the example repository and runs a monitoring pass


def test_tenant_selects_its_models_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_example_repo(tmp_path / "repo")
    assert main(["-C", str(repo), "monitor", "--once", "--tenant", "lab", "--dry-run", "--format", "json"]) == 0
    models = [m["model"] for m in json.loads(capsys.readouterr().out)["models"]]
    assert models and all(m.startswith("lab/") for m in models)
    # a tenant with no model is an empty pass, never "every model"
    assert main(["-C", str(repo), "monitor", "--once", "--tenant", "nobody"]) == 0
    assert "no model of tenant(s) nobody to monitor" in capsys.readouterr().out
