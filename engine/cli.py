"""The ``govops`` command line: one sub-command per thing a person does.

Commands live in ``engine/commands/`` (one module each, discovered at start-up, each
importing its heavy dependencies only when it runs). This module maps every
``GovopsError`` to its message and exit code in one place: 0 ok, 1 governance
failure, 2 input or usage error, 3 a bug in govops. Bad input never prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from engine import __version__
from engine.spec.errors import GovopsError

EXIT_BUG = 3


def _command_modules() -> list[ModuleType]:
    import engine.commands as pkg

    mods = [importlib.import_module(f"engine.commands.{m.name}") for m in pkgutil.iter_modules(pkg.__path__)]
    return sorted((m for m in mods if hasattr(m, "NAME")), key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    """The full parser: global options and every discovered command."""
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
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip())
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``govops`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
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
        if os.environ.get("GOVOPS_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "this is a bug in govops; rerun with GOVOPS_DEBUG=1 for the traceback and report it",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
