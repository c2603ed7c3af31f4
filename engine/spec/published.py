"""Where govops is published: the repository, the version tag, and the schema URLs editors fetch.

Spec stage (nothing but the standard library). One place decides these strings, because
three things must agree on them: the ``# yaml-language-server: $schema=…`` line at the top
of scaffolded and example specs, ``govops schema --editor vscode`` and the scaffolded
``.pre-commit-config.yaml`` (``repo`` and ``rev``).

The schema URL is the raw GitHub URL of the committed schema file *at the version tag*
(``v0.1.0``), not at a branch: a spec written for one govops version keeps validating
against that version's schema in the editor after a later release changes it, and the
file at a tag never moves. The path part is the file's path in this repository
(``engine/spec/schemas/…``), which a test checks.
"""

from __future__ import annotations

from engine import __version__

REPOSITORY_URL = "https://github.com/govops/govops"
"""The govops repository (also the SARIF ``informationUri``)."""

RAW_BASE = "https://raw.githubusercontent.com/govops/govops"

SCHEMA_FILES = {
    "model": "engine/spec/schemas/model.schema.json",
    "governance": "engine/spec/schemas/governance.schema.json",
}
"""The schema of each kind of file, as a path in the repository."""

MODELINE_PREFIX = "# yaml-language-server: $schema="


def version_tag(version: str = __version__) -> str:
    """The Git tag of a release (``v0.1.0``): the ``rev`` pre-commit pins and the schema URLs' ref."""
    return f"v{version}"


def schema_url(kind: str = "model", version: str = __version__) -> str:
    """The published URL of the ``model`` or ``governance`` schema of ``version``."""
    return f"{RAW_BASE}/{version_tag(version)}/{SCHEMA_FILES[kind]}"


def modeline(kind: str = "model", version: str = __version__) -> str:
    """The first line of a spec (or govops.yaml) that points YAML editors at its schema."""
    return f"{MODELINE_PREFIX}{schema_url(kind, version)}"
