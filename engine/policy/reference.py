"""The reference engine: OPA's own Go engine, to prove a policy library on OPA as well as on rego-cpp.

Part of the policy stage's tooling: a test oracle and an optional checker, never a
runtime dependency and never the engine whose decision govops acts on. OPA v1.20.2 comes
as ``libopabridge.so`` in the PyPI wheel ``opa-golib-python-bindings`` (0.4.4), which
``scripts/system-deps.sh`` unpacks, sha256-checked, into ``<venv>/opa-golib/0.4.4`` (or
``$XDG_CACHE_HOME/govops/opa-golib/0.4.4``); ``GOVOPS_REFERENCE_ENGINE`` names another
directory, or ``off``. The engine runs in its own process (``reference_worker``), never
inside govops. It is looked for only outside the checkout, so nothing a pull request
commits can stand in for it.

What it checks:

- every module compiles on OPA (a construct OPA refuses, such as a dynamic ``data``
  reference that reaches its own rule, is a ``PolicyError`` at the Rego file:line naming
  OPA);
- every builtin the library calls exists in rego-cpp (a builtin it lacks, such as
  ``http.send`` or ``json.match_schema``, is a ``PolicyError`` at the call's file:line
  naming rego-cpp; this half needs only regopy);
- ``evaluate`` answers documents on OPA, for the unit-test runner and the conformance
  suite to compare with rego-cpp.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.policy.errors import PolicyError
from engine.policy.library import PolicyLibrary

WHEEL_VERSION = "0.4.4"
"""The ``opa-golib-python-bindings`` release ``scripts/system-deps.sh`` installs."""

OPA_VERSION = "1.20.2"
"""The OPA release inside that wheel."""

ENGINE = f"OPA {OPA_VERSION} (Go engine, the reference)"
"""How messages name the reference engine."""

EMBEDDED = "rego-cpp (regopy, the embedded engine)"
"""How messages name the embedded engine."""

_WORKER = Path(__file__).with_name("reference_worker.py")
_MARKER = "opa_bindings/libopabridge.so"


def candidates() -> list[Path]:
    """Where ``scripts/system-deps.sh`` puts the engine: the virtualenv, then the user's cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [Path(sys.prefix) / "opa-golib" / WHEEL_VERSION, cache / "govops" / "opa-golib" / WHEEL_VERSION]


def find_engine(setting: str | None = None) -> tuple[Path | None, str]:
    """The engine's directory and how it was found, or None and why not (a sentence for a skip)."""
    if setting is None:
        from engine.spec.settings import get_settings

        setting = get_settings().reference_engine
    if setting.strip().lower() == "off":
        return None, "the reference engine is turned off (GOVOPS_REFERENCE_ENGINE=off)"
    if setting.strip().lower() not in ("", "auto"):
        path = Path(setting).expanduser()
        if (path / _MARKER).is_file():
            return path, f"GOVOPS_REFERENCE_ENGINE={setting}"
        return None, f"GOVOPS_REFERENCE_ENGINE={setting} holds no {_MARKER}"
    for path in candidates():
        if (path / _MARKER).is_file():
            return path, str(path)
    where = " or ".join(str(p) for p in candidates())
    return None, (
        f"OPA's Go engine (opa-golib-python-bindings {WHEEL_VERSION}) is not installed in {where}; "
        "`scripts/system-deps.sh .venv/bin` (run by `make test`) installs it from PyPI"
    )


@dataclass(frozen=True)
class Problem:
    """One construct an engine refuses, at the Rego file:line."""

    engine: str
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None

    def error(self, more: int = 0) -> PolicyError:
        """The ``PolicyError`` for this problem (exit 2: the policy must be fixed)."""
        extra = f" (and {more} more)" if more else ""
        return PolicyError(f"{self.engine} refuses this policy: {self.message}{extra}", file=self.file,
                           line=self.line, col=self.col)


@dataclass(frozen=True)
class Outcome:
    """The reference engine's answer to one query: a value, undefined, or an error."""

    value: Any = None
    undefined: bool = False
    error: str | None = None


class Reference:
    """OPA's Go engine in a worker process: compile checks and document evaluation."""

    def __init__(self, path: Path, *, timeout_s: float = 120.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.seconds = 0.0
        """Time the last ``evaluate`` spent in OPA's evaluation (the worker's own clock)."""

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        request = {"engine": str(self.path), **request}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GODEBUG": os.environ.get("GODEBUG", "")}
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-S", str(_WORKER)],
                input=json.dumps(request, allow_nan=False).encode(),
                capture_output=True,
                timeout=self.timeout_s,
                env=env,
            )
        except subprocess.TimeoutExpired:
            raise PolicyError(f"{ENGINE} did not answer within {self.timeout_s:g}s") from None
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise PolicyError(f"{ENGINE} stopped (exit code {proc.returncode}): {' | '.join(tail)}")
        answer: dict[str, Any] = json.loads(proc.stdout)
        return answer

    def problems(self, modules: dict[str, str]) -> list[Problem]:
        """Every compile error OPA reports for these modules (names as messages should show them)."""
        answer = self._ask({"modules": sorted(modules.items()), "queries": []})
        return [_problem(p) for p in answer.get("problems", [])]

    def evaluate(
        self, modules: dict[str, str], queries: list[tuple[str, str | None]], data: Any = None
    ) -> list[Outcome]:
        """``(document path such as "govops.main", input JSON or None)`` answered in order.

        A library that does not compile raises the first problem as ``PolicyError``.
        """
        answer = self._ask({
            "modules": sorted(modules.items()),
            "data": data,
            "queries": [{"path": path, "input": text} for path, text in queries],
        })
        if answer.get("problems"):
            found = [_problem(p) for p in answer["problems"]]
            raise found[0].error(len(found) - 1)
        self.seconds = float(answer.get("seconds", 0.0))
        return [Outcome(r.get("value"), bool(r.get("undefined")), r.get("error")) for r in answer["results"]]


def _problem(raw: dict[str, Any]) -> Problem:
    return Problem(ENGINE, f"{raw['code']}: {raw['message']}", raw.get("file"), raw.get("line"))


def open_reference(setting: str | None = None) -> tuple[Reference | None, str]:
    """A ``Reference`` when the engine is installed, else None and the reason."""
    path, how = find_engine(setting)
    return (Reference(path) if path is not None else None), how


# ------------------------------------------------------------------ builtins rego-cpp lacks

_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_HEAD = re.compile(r"^([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_IMPORT = re.compile(r"^import\s+([\w.]+)(?:\s+as\s+(\w+))?", re.MULTILINE)
_KEYWORDS = {"if", "not", "some", "every", "in", "contains", "else", "with", "as", "default", "import", "package"}


def _code_lines(source: str) -> list[str]:
    """Each line with its strings emptied and its comment cut (positions of the code kept)."""
    out = []
    for line in source.split("\n"):
        code = _STRINGS.sub(lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', line)
        out.append(code.split("#", 1)[0])
    return out


def missing_builtins(library: PolicyLibrary, *, with_tests: bool = False) -> list[Problem]:
    """Calls of builtins rego-cpp does not implement, each at its file:line:col.

    rego-cpp compiles such a call and fails only when a query reaches it, without a
    position (``http.send``) or with a message naming no file (``json.match_schema``):
    a rule that needs one never works on the embedded engine, so it is an error here.
    A call is a builtin unless its name is a function the library defines, or starts
    with an import alias, ``data`` or ``input``.
    """
    sources = {**library.modules, **(library.tests if with_tests else {})}
    defined: set[str] = set()
    for source in sources.values():
        defined.update(m.group(1) for m in _HEAD.finditer(source))
    names: dict[tuple[str, int, int], str] = {}
    for name, source in sorted(sources.items()):
        aliases = {"data", "input"}
        for m in _IMPORT.finditer(source):
            aliases.add(m.group(2) or m.group(1).rsplit(".", 1)[-1])
        for n, code in enumerate(_code_lines(source), 1):
            for m in _CALL.finditer(code):
                called = m.group(1)
                if called in _KEYWORDS or called in defined or called.split(".", 1)[0] in aliases:
                    continue
                names[(name, n, m.start(1) + 1)] = called
    if not names:
        return []
    available = _regopy_builtins(set(names.values()))
    return [
        Problem(EMBEDDED, f"builtin {called} is not implemented by rego-cpp; a rule that calls it can never "
                          "decide on the embedded engine (use builtins both engines support)",
                library.display(name), line, col)
        for (name, line, col), called in sorted(names.items())
        if not available.get(called, True)
    ]


def _regopy_builtins(names: set[str]) -> dict[str, bool]:
    """Which ``names`` rego-cpp knows as builtins (asked of regopy itself)."""
    from regopy import Interpreter
    from regopy import rego_shared as rs

    interp = Interpreter()
    return {n: bool(rs.rego_is_available_builtin(interp._impl, n)) for n in names}


# ------------------------------------------------------------------ the checks the CLI runs


def check_library(library: PolicyLibrary, reference: Reference | None, *, with_tests: bool = False) -> None:
    """Raise ``PolicyError`` at the first construct either engine refuses (OPA's half needs ``reference``)."""
    if reference is not None:
        sources = {library.display(n): s for n, s in {**library.modules,
                                                       **(library.tests if with_tests else {})}.items()}
        found = reference.problems(sources)
        if found:
            raise found[0].error(len(found) - 1)
    missing = missing_builtins(library, with_tests=with_tests)
    if missing:
        raise missing[0].error(len(missing) - 1)


def check_custom_library(library: PolicyLibrary, setting: str | None = None) -> None:
    """What ``govops check`` runs: both halves of ``check_library`` for a library that is not the default."""
    if _default_digest() == library.digest:
        return
    path, _ = find_engine(setting)
    proven = _proven_marker(library, path)
    if proven is not None and proven.is_file():
        return
    check_library(library, Reference(path) if path is not None else None)
    if proven is not None:
        try:
            proven.parent.mkdir(parents=True, exist_ok=True)
            proven.touch()
        except OSError:
            pass  # a cache is an optimisation: the check runs again next time


def _proven_marker(library: PolicyLibrary, path: Path | None) -> Path | None:
    """Where a library that passed both halves is remembered (the user's cache, never the checkout)."""
    if path is None:
        return None
    import hashlib

    from engine.spec.settings import cache_root

    key = hashlib.sha256(f"{library.digest}\0{WHEEL_VERSION}\0{path}".encode()).hexdigest()[:32]
    return cache_root() / "reference-proven" / key


def _default_digest() -> str | None:
    """The digest of govops' default library (``default_library``: a link to ``policies/``, or its packaged copy)."""
    from engine.policy.library import load_library

    where = Path(__file__).parent / "default_library"  # engine.scaffold.policies_dir(), without the import
    if not where.is_dir():
        return None
    try:
        return load_library(where.resolve().parent, where.resolve().name).digest
    except PolicyError:
        return None
