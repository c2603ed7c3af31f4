"""Editors validate specs at once: a schema line on every example and scaffolded file, and `schema --editor vscode`."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest

from engine import __version__
from engine.cli import main
from engine.report.output.sarif import INFO_URI
from engine.scaffold import init_repo
from engine.spec.published import REPOSITORY_URL, SCHEMA_FILES, modeline, schema_url, version_tag
from engine.spec.schemas import GOVERNANCE_SCHEMA, MODEL_SCHEMA
from tests.conftest import PROJECT

EXAMPLE_SPECS = sorted((PROJECT / "specs").rglob("*.yaml"))


def test_the_schema_urls_name_the_files_in_this_repository_at_the_version_tag():
    version = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    assert version == __version__ and version_tag() == f"v{version}"
    assert REPOSITORY_URL == INFO_URI  # one repository named everywhere
    owner_repo = urlparse(REPOSITORY_URL).path.strip("/")
    for kind, committed in (("model", MODEL_SCHEMA), ("governance", GOVERNANCE_SCHEMA)):
        url = urlparse(schema_url(kind))
        assert url.netloc == "raw.githubusercontent.com"
        prefix = f"/{owner_repo}/{version_tag()}/"
        assert url.path.startswith(prefix)
        path = url.path.removeprefix(prefix)
        assert path == SCHEMA_FILES[kind] and (PROJECT / path).resolve() == committed.resolve()


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.relative_to(PROJECT).as_posix())
def test_every_example_spec_starts_with_the_model_schema_line(spec):
    assert spec.read_text().splitlines()[0] == modeline("model")


def test_govops_yaml_starts_with_its_own_schema_line():
    assert (PROJECT / "govops.yaml").read_text().splitlines()[0] == modeline("governance")


def test_scaffolded_files_start_with_their_schema_lines_and_lint(tmp_path, capsys):
    root = tmp_path / "repo"
    init_repo(root)
    assert (root / "govops.yaml").read_text().splitlines()[0] == modeline("governance")
    assert (root / "specs/example/iris-species.yaml").read_text().splitlines()[0] == modeline("model")
    assert main(["-C", str(root), "lint"]) == 0, capsys.readouterr().out


def test_a_spec_with_the_schema_line_lints(tmp_path, capsys):
    """The schema line is a comment to govops: specs lint with it (and positions below it stay exact)."""
    assert main(["-C", str(PROJECT), "lint"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    root = tmp_path / "repo"
    init_repo(root)
    spec = root / "specs/example/iris-species.yaml"
    text = spec.read_text().replace("    champion: 1.0.0", "    champoin: 1.0.0")
    spec.write_text(text)
    assert main(["-C", str(root), "lint"]) == 2
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "champoin" in x)
    assert f"specs/example/iris-species.yaml:{line}:5: error: unknown field 'champoin'" in capsys.readouterr().out


def _settings(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main([*args, "schema", "--editor", "vscode"]) == 0
    return json.loads(capsys.readouterr().out)


def test_editor_vscode_maps_the_spec_folders_and_govops_yaml_to_the_published_schemas(capsys, tmp_path):
    doc = _settings(capsys, "-C", str(PROJECT))
    assert doc == {"yaml.schemas": {
        schema_url("model"): ["specs/**/*.yaml", "specs/**/*.yml"],
        schema_url("governance"): ["govops.yaml"],
    }}
    root = tmp_path / "repo"
    init_repo(root)
    (root / "govops.yaml").write_text((root / "govops.yaml").read_text().replace(
        "specPaths: [specs]", "specPaths: [models, teams/specs/]"))
    doc = _settings(capsys, "-C", str(root))
    assert doc["yaml.schemas"][schema_url("model")] == [
        "models/**/*.yaml", "models/**/*.yml", "teams/specs/**/*.yaml", "teams/specs/**/*.yml"]


def test_editor_vscode_local_points_at_this_installations_files(capsys):
    capsys.readouterr()
    assert main(["-C", str(PROJECT), "schema", "--editor", "vscode", "--local"]) == 0
    schemas = json.loads(capsys.readouterr().out)["yaml.schemas"]
    files = {Path(urlparse(url).path) for url in schemas}
    assert files == {MODEL_SCHEMA.resolve(), GOVERNANCE_SCHEMA.resolve()}
    assert all(f.is_file() for f in files)
