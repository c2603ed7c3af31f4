"""Start-up stays light: what ``govops --version``/``--help`` and the command modules import.

An assertion on the modules loaded, never on wall-clock time (that is
``benchmarks/startup.py``'s job): importing the CLI, or any one command module, must not
load pydantic, GitPython, numpy, pandas, requests or hera; they are imported inside the
command that needs them. Each check runs in a fresh interpreter, so nothing another test
imported counts.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from engine.cli import COMMANDS
from tests.conftest import PROJECT

HEAVY = ("pydantic", "pydantic_core", "pydantic_settings", "git", "gitdb", "numpy", "pandas", "requests", "hera")


def _loaded_modules(code: str) -> set[str]:
    """``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True)
    return set(json.loads(res.stdout.strip().splitlines()[-1]))


def _loaded_after(code: str) -> set[str]:
    """Top-level packages loaded by ``code`` in a fresh interpreter."""
    return {m.split(".")[0] for m in _loaded_modules(code)}


def test_importing_the_cli_loads_nothing_heavy():
    assert not _loaded_after("import engine.cli") & set(HEAVY)


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_nothing_heavy(flag):
    code = ("import sys\nfrom engine.cli import main\nsys.argv = ['govops', " + repr(flag) + "]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    loaded = _loaded_modules(code)
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert not {m for m in loaded if m.startswith("engine.commands.")}, "listing the commands imported one"


def test_version_imports_no_command_module():
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "engine.cli", "--version"], cwd=PROJECT,
                         capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.startswith("engine.commands.")}
    assert not {m.split(".")[0] for m in imported} & set(HEAVY)


def test_every_command_module_imports_nothing_heavy():
    """A run imports only its own command module; that module defers its dependencies to ``run``."""
    code = "\n".join(f"import engine.commands.{module}" for _, module, _ in COMMANDS)
    assert not _loaded_after(code) & set(HEAVY)


def test_the_registry_agrees_with_the_command_modules():
    """``COMMANDS`` (what ``--help`` lists) says what each module's NAME and HELP say, in ORDER."""
    mods = [importlib.import_module(f"engine.commands.{module}") for _, module, _ in COMMANDS]
    assert [(m.NAME, m.HELP) for m in mods] == [(name, help_line) for name, _, help_line in COMMANDS]
    orders = [(getattr(m, "ORDER", 100), m.NAME) for m in mods]
    assert orders == sorted(orders)
    on_disk = {p.stem for p in (PROJECT / "engine" / "commands").glob("*.py") if not p.stem.startswith("_")}
    assert on_disk == {module for _, module, _ in COMMANDS}, "a command module is missing from engine.cli.COMMANDS"


def test_the_trail_reads_govops_yaml_keys_the_model_knows():
    """``verify`` reads govops.yaml without pydantic; it must know exactly the model's keys (else it defers)."""
    from engine.audit.trail import _CONFIG_KEYS
    from engine.spec.config import Governance

    assert _CONFIG_KEYS == {field.alias or name for name, field in Governance.model_fields.items()}


@pytest.mark.parametrize("extra", ["signedCommits: maybe\n", "ledger:\n  allowedSigners: [1]\n", "tierz: {}\n"])
def test_the_trail_defers_to_the_model_for_what_it_cannot_vouch_for(extra):
    from engine.audit.trail import TrailConfig

    raw = (PROJECT / "govops.yaml").read_bytes()
    assert TrailConfig.read(raw) is not None
    assert TrailConfig.read(raw + b"\n" + extra.encode()) is None
