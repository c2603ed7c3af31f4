"""The fast read of the command name agrees with argparse's probe on every argv shape it accepts.

``engine.cli._plain_command`` skips building a parser for the usual ``govops [-C DIR] COMMAND``
shape; when it answers at all, it must name the command the probe parser names, and every
other shape must fall through to the probe (None).
"""

from __future__ import annotations

import pytest

from engine import cli


def probe(argv: list[str]) -> str | None:
    known, _ = cli.build_parser((), command_help=False).parse_known_args(argv)
    return known.command


@pytest.mark.parametrize("argv", [
    ["lint"],
    ["check", "--all"],
    ["-C", "repo", "check", "--all"],
    ["-Crepo", "verify", "--strict"],
    ["--repo", "x", "--config", "y.yaml", "audit", "m"],
    ["--repo=x", "--config=y.yaml", "lint", "specs/a.yaml"],
    ["lint", "-C", "elsewhere"],
    ["check", "lint"],
])
def test_plain_argv_names_the_command_the_probe_names(argv: list[str]) -> None:
    assert cli._plain_command(argv) == probe(argv)
    assert cli._plain_command(argv) is not None


@pytest.mark.parametrize("argv", [
    [],
    ["--version"],
    ["-h"],
    ["--rep", "x", "lint"],          # an abbreviation argparse accepts: the probe reads it
    ["--conf=y.yaml", "lint"],
    ["nosuchcommand"],
    ["-C"],
    ["--", "lint"],
    ["-x", "lint"],
])
def test_every_other_shape_goes_to_the_probe(argv: list[str]) -> None:
    assert cli._plain_command(argv) is None


def test_abbreviated_global_still_finds_the_command() -> None:
    assert cli._command_in(["--rep", "x", "lint"]) == "lint"
