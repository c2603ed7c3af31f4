"""The ``govops`` command line: one sub-command per thing a person does.

Commands live in ``engine/commands/`` (one module each, importing its heavy dependencies
only when it runs). ``COMMANDS`` lists them with their one-line help, so ``govops --help``
and ``--version`` import no command module, and a run imports only the one it names
(``tests/spec/test_startup_imports.py`` keeps both true). This module maps every
``GovopsError`` to its message and exit code in one place: 0 ok, 1 governance
failure, 2 input or usage error, 3 a bug in govops. Bad input never prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from types import ModuleType

from engine import __version__
from engine.spec.errors import EXIT_BUG, GovopsError

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("init", "init", "scaffold a new GitOps repository that passes `govops lint` at once"),
    ("lint", "lint", "validate specs and govops.yaml (YAML, schema, structure) at file:line:col"),
    ("new", "new", "write a lint-clean spec for a trained model: interface from its data, digests pinned"),
    ("pin", "pin", "re-pin the sha256 digests of the files specs name, keeping comments and layout"),
    ("hook", "hook", "pre-commit entry points: `lint` the staged specs, `check` the staged change with HEAD's rules"),
    ("catalog", "catalog", "list the models (id, tier, champion, challengers, versions)"),
    ("check", "check", "lint + plan + policy for a change (--base/--head), every model (--all) or named models"),
    ("plan", "plan", "show what a change (base...head) does to each model, policies and govops.yaml"),
    ("policy", "policy", "policy tools: `input` prints what the engine sends, `test` runs the Rego unit tests"),
    ("pr-check", "pr_check",
     "check a pull request: plan, policies, validators; report statuses, annotations, summary"),
    ("validate", "validate", "run the tier's validation checks (local executor) and write one result per check"),
    ("profile", "profile", "build reference profiles (mergeable sketches) of model versions for monitoring"),
    ("argo", "argo",
     "render argo/ (templates, CronWorkflows), show a change's Workflow, read runs' status and logs"),
    ("rollout", "rollout",
     "roll the specs at a Git ref out to MLServer (local) or Kubernetes manifests, health-gated"),
    ("serve", "serve", "start the local MLServer that serves what govops rolled out"),
    ("stop", "stop", "stop the local MLServer (the rolled-out state stays on disk)"),
    ("status", "status", "show every served model version: role, Open Inference Protocol URL, readiness"),
    ("ledger", "ledger", "show the rollout records stored as git notes (refs/notes/govops)"),
    ("gateway", "gateway",
     "run the champion/challenger gateway (V2 protocol): routing, auth, prediction log, metrics"),
    ("monitor", "monitor",
     "compute drift/performance/bias/anomaly/operational/KPI metrics, health, alerts and auto-shutdown"),
    ("audit", "audit", "a model's timeline: changes, approvals, evidence, rollouts, shutdowns, reverts"),
    ("explain", "explain", "re-evaluate a recorded policy decision and print the rule-level why"),
    ("verify", "verify",
     "verify the audit trail: signed hash-chained notes, records for every change, digests, served bytes"),
    ("report", "report",
     "compliance report: inventory, changes and approvals, exceptions, failures, incidents, missing evidence"),
    ("docs", "docs", "generate a model card (Markdown or HTML) from the spec and the recorded evidence"),
    ("schema", "schema", "print the JSON Schema of a model spec (or of govops.yaml)"),
)
"""``(name, module under engine.commands, one-line help)`` in ``govops --help`` order.

The registry, not the modules, is what start-up reads: importing every command module to
list them cost a second (pandas, pydantic, GitPython). Each module's ``NAME``/``HELP``/``ORDER``
must agree with its row here; ``tests/spec/test_startup_imports.py`` checks it.
"""


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (imported now, and only it)."""
    module = next(m for n, m, _ in COMMANDS if n == name)
    return importlib.import_module(f"engine.commands.{module}")


def build_parser(configured: Collection[str] | None = None, *, command_help: bool = True) -> argparse.ArgumentParser:
    """The parser: global options and every command; ``configured`` names the commands whose options are added.

    ``None`` configures every command (imports every module). With none configured (the
    probe, ``--help``) every command is listed with its help line only; ``command_help=False``
    also leaves out its ``-h`` so a first pass can find the command's name in argv without
    acting on the command's own options. With some configured (a run, whose command is known)
    the others are left out: argv names only its own command, and no usage or error line
    lists the commands (``COMMAND``), so parsing answers the same without building 25 parsers.
    """
    parser = argparse.ArgumentParser(
        prog="govops",
        description="GitOps, policy-as-code governance for machine-learning models.",
        epilog="Exit codes: 0 ok, 1 governance failure, 2 input or usage error, 3 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"govops {__version__}")
    parser.add_argument(
        "-C",
        "--repo",
        type=Path,
        default=None,
        metavar="DIR",
        help="the GitOps repository (default: the nearest directory holding govops.yaml)",
    )
    parser.add_argument("--config", type=Path, default=None, metavar="FILE", help="govops.yaml to use")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, _, help_line in COMMANDS:
        if configured is not None and name not in configured:
            if not configured:
                sub.add_parser(name, help=help_line, add_help=command_help)
            continue
        mod = command_module(name)
        p = sub.add_parser(name, help=help_line, description=(mod.__doc__ or help_line).strip())
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


_VALUED_GLOBALS = ("-C", "--repo", "--config")


def _plain_command(argv: list[str]) -> str | None:
    """The command of an ``argv`` in the usual shape (global options spelt out, then a known command), else None.

    Most runs look like ``govops [-C DIR] [--config FILE] COMMAND ...``: those are read
    here without building a parser. Anything else (``--help``, ``--version``, an abbreviated
    or unknown option, an unknown command) goes to the probe parser, which answers exactly
    as argparse does.
    """
    names = {n for n, _, _ in COMMANDS}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _VALUED_GLOBALS:
            i += 2
            continue
        if token.startswith(("--repo=", "--config=")) or (token.startswith("-C") and len(token) > 2):
            i += 1
            continue
        return token if token in names else None
    return None


_VERIFY_FLAGS = frozenset({"--strict", "--deep", "--all-signatures", "--format=text", "--format=json"})


def _start_verify_early(argv: list[str]) -> None:
    """Start ``verify``'s history walk before the parser is built (``engine.audit.gitjobs.start_early``).

    Only for an argv read whole here: ``-C``/``--repo``/``--config`` spelt out, ``verify``,
    then flags that take no value (and ``--format text|json``). Anything else (``--ref``,
    ``-h``, an abbreviation, a usage error) is left to the parser alone. The command's own
    ``prestart`` takes this walk only for the same repository and ref, so a misreading here
    costs a walk, never an answer.
    """
    repo: str | None = None
    i = 0
    while i < len(argv) and argv[i] != "verify":
        token = argv[i]
        if token in _VALUED_GLOBALS and i + 1 < len(argv):
            repo = argv[i + 1] if token != "--config" else repo
            i += 2
        elif token.startswith(("--repo=", "--config=")) or (token.startswith("-C") and len(token) > 2):
            if token.startswith("-C"):  # argparse reads "-C=DIR" as DIR
                repo = token[3:] if token.startswith("-C=") else token[2:]
            elif token.startswith("--repo="):
                repo = token[7:]
            i += 1
        else:
            return
    rest = argv[i + 1 :] if i < len(argv) else ["-"]
    k = 0
    while k < len(rest):
        if rest[k] in _VERIFY_FLAGS:
            k += 1
        elif rest[k] == "--format" and rest[k + 1 : k + 2] in (["text"], ["json"]):
            k += 2
        else:
            return
    from engine.audit.gitjobs import start_early
    from engine.commands._common import repo_root

    start_early(repo_root(argparse.Namespace(repo=None if repo is None else Path(repo))), None)


def _command_in(argv: list[str]) -> str | None:
    """The command ``argv`` names, found with a parser that knows no command's options (imports none).

    ``--version``, ``--help`` and global usage errors are handled here, exactly as the full
    parser would: the global options and the command list are the same.
    """
    plain = _plain_command(argv)
    if plain is not None:
        return plain
    probe = build_parser((), command_help=False)
    known, _ = probe.parse_known_args(argv)
    return known.command


def _debug() -> bool:
    """``GOVOPS_DEBUG``: show the traceback of a bug (an invalid settings value means no)."""
    from engine.spec.settings import get_settings

    try:
        return get_settings().debug
    except GovopsError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``govops`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    if command == "verify":
        _start_verify_early(argv)
    parser = build_parser([command] if command else ())
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in a hand-written note prints escaped, never crashes
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:
        return int(args._run(args))
    except GovopsError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly, show the traceback only on request
        if _debug():
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "this is a bug in govops; rerun with GOVOPS_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
