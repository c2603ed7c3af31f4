"""The validator image's Dockerfile: minimal, pinned, non-root, runs checks (not built here)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from engine.spec.settings import DEFAULT_VALIDATOR_IMAGE, Settings

PROJECT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (PROJECT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_base_image_is_pinned_to_an_exact_version() -> None:
    froms = [rest for op, rest in _instructions() if op == "FROM"]
    assert len(froms) == 1
    image = froms[0]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image


def test_runs_checks_as_a_non_root_user() -> None:
    ins = _instructions()
    users = [rest for op, rest in ins if op == "USER"]
    assert users == ["10001:10001"]
    assert [op for op, _ in ins][-1] == "ENTRYPOINT"
    entry = json.loads(next(rest for op, rest in ins if op == "ENTRYPOINT"))
    assert entry == ["python", "-I", "-m", "runners"]  # exec form: no shell
    assert ("WORKDIR", "/work/repo") in ins  # where Argo's git artifact puts the checkout


def test_every_python_package_is_pinned() -> None:
    ins = _instructions()
    env = " ".join(rest for op, rest in ins if op == "ENV")
    assert "PIP_CONSTRAINT=/opt/govops/constraints.txt" in env
    assert ("COPY", "docker/constraints.txt ./constraints.txt") in ins
    pins = {}
    for line in (PROJECT / "docker" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), line
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    for dep in project["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")
        assert name in pins, f"{name} is not pinned in docker/constraints.txt"
    assert "setuptools" in pins and "wheel" in pins  # the build backend too
    installs = [rest for op, rest in ins if op == "RUN" and "pip install" in rest]
    assert installs and all("--constraint" in r or "PIP_CONSTRAINT" in env for r in installs)


def test_image_is_configuration(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("GOVOPS_VALIDATOR_IMAGE", raising=False)
    assert Settings().validator_image == DEFAULT_VALIDATOR_IMAGE == "ghcr.io/govops/validator:0.1.0"
    monkeypatch.setenv("GOVOPS_VALIDATOR_IMAGE", "registry.example/validator@sha256:" + "a" * 64)
    assert Settings().validator_image.endswith("a" * 64)
    ignore = (PROJECT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*" and "!engine/" in ignore and "!runners/" in ignore
