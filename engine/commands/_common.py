"""Helpers shared by commands: locating the repository, loading it, printing findings.

Every command module imports this one, so it imports nothing heavy itself: the spec
model (pydantic), the workspace loader and the output formats are imported by the helper
that needs them, when it is called.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.spec.errors import EXIT_INPUT, EXIT_OK, InputError

if TYPE_CHECKING:
    from engine.spec.diagnostics import Findings
    from engine.spec.workspace import Workspace

CONFIG_FILE = "govops.yaml"  # engine.spec.workspace.CONFIG_FILE, without importing the workspace loader


def repo_root(args: argparse.Namespace) -> Path:
    """``-C DIR`` if given, else the nearest directory holding govops.yaml.

    The same walk as ``engine.spec.workspace.find_root``, done here so that commands that
    only read Git (``verify``) do not import the spec loader to find their repository.
    """
    if args.repo is not None:
        return Path(args.repo).resolve()
    here = Path.cwd().resolve()
    return next((d for d in (here, *here.parents) if (d / CONFIG_FILE).is_file()), here)


def workspace(args: argparse.Namespace, paths: list[Path] | None = None, *, keep_specs: bool = True,
              summarise: Any = None) -> Workspace:
    """Load the repository named by the global options (``summarise``: see ``load_workspace``)."""
    from engine.spec.workspace import load_workspace

    root = repo_root(args)
    config = Path(args.config).resolve() if args.config else None
    return load_workspace(root, paths, config_path=config, jobs=getattr(args, "jobs", None), keep_specs=keep_specs,
                          summarise=summarise)


def emit(findings: Findings, fmt: str, out: Path | None = None) -> None:
    """Render findings in ``fmt`` to stdout (or a file)."""
    from engine.report.output import get

    text = get(fmt).render(findings)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)


def add_format(parser: argparse.ArgumentParser, choices: list[str], default: str = "text") -> None:
    """The ``--format`` option."""
    parser.add_argument("--format", choices=choices, default=default, help=f"output format (default: {default})")


def exit_for(findings: Findings) -> int:
    """0 when nothing blocks, 2 when a spec is invalid input."""
    return EXIT_OK if findings.ok else EXIT_INPUT


def write_rendered(doc: Any, fmt: str, out: Path | None, *, md: Callable[[Any], str],
                   html: Callable[[Any], str]) -> None:
    """``doc`` as ``--format`` says (``json``, ``md`` through ``md``, ``html`` through ``html``), then written."""
    if fmt == "json":
        text = json.dumps(doc, indent=2, default=str) + "\n"
    else:
        text = md(doc) if fmt == "md" else html(doc)
    write_document(text, out)


def write_document(text: str, out: Path | None) -> None:
    """A rendered document to ``out`` (saying so on stderr) or to stdout; an unwritable ``out`` is exit 2."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}", file=str(out)) from None
    print(f"wrote {out} ({len(text)} bytes)", file=sys.stderr)
