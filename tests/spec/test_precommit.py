"""pre-commit runs govops' hooks on a scaffolded repository: staged specs linted, the staged change judged.

The hooks come from this checkout's ``.pre-commit-hooks.yaml``. A real install from the govops
repository at ``rev`` would build a virtualenv from PyPI (network); here each hook is declared
``repo: local`` with ``language: system`` and its entry pointed at this environment's ``govops``,
everything else (id, entry arguments, ``files``, ``pass_filenames``) copied from the hooks file,
so pre-commit itself (from PyPI, the ``test`` extra) runs exactly those hook definitions offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.scaffold import init_repo
from engine.spec.published import REPOSITORY_URL, version_tag
from tests.conftest import PROJECT, run_git

pytestmark = pytest.mark.slow

HOOKS = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
GOVOPS = Path(sys.executable).parent / "govops"
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")


def test_the_scaffolded_config_uses_the_published_hooks(tmp_path):
    init_repo(tmp_path / "repo")
    config = yaml.safe_load((tmp_path / "repo" / ".pre-commit-config.yaml").read_text())
    (entry,) = config["repos"]
    assert entry["repo"] == REPOSITORY_URL and entry["rev"] == version_tag()
    assert [h["id"] for h in entry["hooks"]] == [h["id"] for h in HOOKS] == ["govops-lint", "govops-check"]
    for hook in HOOKS:
        assert hook["language"] == "python" and hook["pass_filenames"] is True
        assert hook["entry"] in ("govops hook lint", "govops hook check")


@pytest.fixture
def repo(tmp_path) -> Path:
    if PRE_COMMIT is None or not GOVOPS.is_file():
        pytest.skip("pre-commit (the test extra) and the govops console script are needed")
    root = tmp_path / "repo"
    init_repo(root)
    local = [{**hook, "language": "system", "entry": str(GOVOPS) + hook["entry"].removeprefix("govops")}
             for hook in HOOKS]
    (root / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}))
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", "scaffold")
    return root


def pre_commit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home"), "HOME": str(root.parent),
           "GIT_CONFIG_NOSYSTEM": "1", "PRE_COMMIT_COLOR": "never"}
    return subprocess.run([PRE_COMMIT, "run", *args], cwd=root, capture_output=True, text=True, env=env,
                          timeout=300)


def _stage(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    run_git(root, "add", rel)


def test_lint_passes_a_good_spec_and_fails_a_bad_one_at_file_line_col(repo):
    good = "specs/example/iris-species.yaml"
    res = pre_commit(repo, "govops-lint", "--files", good, ".pre-commit-config.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Passed" in res.stdout

    text = (repo / good).read_text().replace("    champion: 1.0.0", "    champoin: 1.0.0")
    _stage(repo, "specs/example/typo.yaml", text.replace("name: iris-species", "name: typo"))
    res = pre_commit(repo, "govops-lint", "--files", "specs/example/typo.yaml")
    assert res.returncode == 1
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "champoin" in x)
    assert (f"specs/example/typo.yaml:{line}:5: error: unknown field 'champoin' in spec.deployment "
            "(did you mean 'champion'?)") in res.stdout


def test_check_judges_the_staged_change_with_heads_rules(repo):
    spec = (repo / "specs/example/iris-species.yaml").read_text()
    ok = spec.replace("name: iris-species", "name: iris-copy")
    _stage(repo, "specs/example/iris-copy.yaml", ok)
    res = pre_commit(repo, "govops-check", "--files", "specs/example/iris-copy.yaml")
    assert res.returncode == 0, res.stdout + res.stderr  # approvals are for the pull request: warnings here

    # a medium-tier model without alerting is denied, and relaxing the tier in the same commit changes
    # nothing: HEAD's govops.yaml judges, not the staged one
    risky = spec.replace("name: iris-species", "name: iris-medium").replace("tier: low", "tier: medium")
    _stage(repo, "specs/example/iris-medium.yaml", risky)
    config = (repo / "govops.yaml").read_text()
    assert config.count("    requireAlerting: true\n") == 2
    _stage(repo, "govops.yaml", config.replace("    requireAlerting: true\n", "    requireAlerting: false\n"))
    res = pre_commit(repo, "govops-check", "--files", "specs/example/iris-medium.yaml", "govops.yaml")
    assert res.returncode == 1
    assert "specs/example/iris-medium.yaml:" in res.stdout and "[GOV-ALR-001]" in res.stdout
    assert "warning: at the pull request:" in res.stdout


def test_check_before_the_first_commit_judges_the_tree_by_its_own_rules(tmp_path, capsys):
    from engine.cli import main

    root = tmp_path / "repo"
    init_repo(root)
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "add", "-A")
    assert main(["-C", str(root), "hook", "check", "specs/example/iris-species.yaml"]) == 0
    out = capsys.readouterr().out
    assert "note: no commit at HEAD yet: the staged tree is judged by its own rules" in out


def test_hook_lint_skips_yaml_that_is_not_a_spec_and_lints_everything_for_govops_yaml(tmp_path, capsys):
    from engine.cli import main

    root = tmp_path / "repo"
    init_repo(root)
    workflow = str(root / ".github/workflows/govops-pr.yml")
    assert main(["-C", str(root), "hook", "lint", workflow, str(root / ".pre-commit-config.yaml")]) == 0
    assert capsys.readouterr().out == "govops lint: no spec staged\n"
    (root / "govops.yaml").write_text((root / "govops.yaml").read_text().replace("  low:\n", "  lowest:\n"))
    assert main(["-C", str(root), "hook", "lint", str(root / "govops.yaml")]) == 2
    assert "specs/example/iris-species.yaml:" in capsys.readouterr().out  # its tier is gone
