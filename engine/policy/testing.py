"""The Rego unit-test runner behind ``govops policy test`` (OPA's ``opa test`` convention).

Part of the policy stage's tooling. Every ``test_*`` rule of every ``*_test.rego`` module
is queried through regopy (in a worker process with the per-query time limit); a test
passes when it evaluates to true. regopy 1.5.2 cannot evaluate ``with`` (builtins under
``with input as`` crash its compiler), so a test is written on one line as
``test_NAME if EXPR with input as CASE`` (valid for ``opa test`` too): the runner
evaluates ``CASE`` first, then ``test_NAME`` with that value as the input and the
``with`` clause left out. Never changes a policy file.

When OPA's Go engine is installed (``engine.policy.reference``), the library and its
tests are also compiled on it (a construct OPA refuses is an error at its file:line) and
every ``test_*`` rule is evaluated there too, as written (``with`` and all): a test the
two engines answer differently is an ERROR naming both, so a result proven on one
engine only never passes.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.policy.errors import PolicyError
from engine.policy.library import PolicyLibrary, load_library
from engine.policy.regopy_backend import RegopyPool

if TYPE_CHECKING:
    from engine.policy.reference import Reference

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_IMPORT_AS = re.compile(r"^import\s+(data\.[\w.]+)\s+as\s+(\w+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b(.*)$", re.MULTILINE)
_WITH_INPUT = re.compile(r"\s+with\s+input\s+as\s+([\w.]+)\s*$")


@dataclass(frozen=True)
class TestResult:
    """One test: where it is, its outcome (PASS, FAIL, ERROR) and how long it took."""

    file: str
    line: int
    package: str
    name: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    reference: str = ""
    """The outcome on OPA's Go engine (PASS, FAIL, ERROR), or "" when it did not run."""

    def render(self) -> str:
        """``file:line: data.pkg.test_name: PASS (1.2ms)``."""
        extra = f" — {self.detail}" if self.detail else ""
        return (
            f"{self.file}:{self.line}: data.{self.package}.{self.name}: {self.status} "
            f"({self.seconds * 1000:.1f}ms){extra}"
        )


@dataclass(frozen=True)
class TestCase:
    """A discovered test and the input case it names (a full ``data.`` ref, or None)."""

    module: str
    line: int
    package: str
    name: str
    case: str | None


def discover(sources: dict[str, str]) -> tuple[list[TestCase], dict[str, str]]:
    """The tests, and the modules rewritten without the ``with input as CASE`` suffixes."""
    found: list[TestCase] = []
    rewritten: dict[str, str] = {}
    for name, source in sorted(sources.items()):
        pkg = _PACKAGE.search(source)
        if pkg is None:
            rewritten[name] = source
            continue
        aliases = {m.group(2): m.group(1) for m in _IMPORT_AS.finditer(source)}
        seen: set[str] = set()
        lines = source.split("\n")
        for i, text in enumerate(lines):
            m = _TEST_RULE.match(text)
            if m is None or m.group(1) in seen:
                continue
            seen.add(m.group(1))
            case: str | None = None
            w = _WITH_INPUT.search(text)
            if w is not None:
                ref = w.group(1)
                head, _, rest = ref.partition(".")
                case = f"{aliases[head]}.{rest}" if head in aliases and rest else f"data.{pkg.group(1)}.{ref}"
                lines[i] = text[: w.start()]
            found.append(TestCase(name, i + 1, pkg.group(1), m.group(1), case))
        rewritten[name] = "\n".join(lines)
    return found, rewritten


def _entrypoint(ref: str) -> str:
    """``data.govops.x_test.case`` -> ``govops/x_test/case`` (a bundle entrypoint)."""
    return ref.removeprefix("data.").replace(".", "/")


def run_tests(
    root: Path,
    directory: str = "policies",
    *,
    only: str | None = None,
    timeout_s: float = 10.0,
    reference: Reference | None = None,
) -> list[TestResult]:
    """Run the tests (also on ``reference`` when given); a compile error raises ``PolicyError`` with file:line."""
    from engine.policy.reference import check_library

    library = load_library(root, directory, with_tests=True)
    cases, rewritten = discover(library.tests)
    cases = [c for c in cases if only is None or only in c.name]
    if not cases:
        raise PolicyError(f"no test_* rules in {directory}/*_test.rego", file=directory)
    check_library(library, reference, with_tests=True)
    runnable = PolicyLibrary(library.root, library.directory, library.modules, rewritten)
    entrypoints = sorted(
        {_entrypoint(f"data.{c.package}.{c.name}") for c in cases}
        | {_entrypoint(c.case) for c in cases if c.case is not None}
    )
    pool = RegopyPool(runnable, mode="entrypoints", timeout_s=timeout_s, jobs=1, entrypoints=entrypoints)
    results: list[TestResult] = []
    try:
        pool.ensure(1)
        for c in cases:
            start = time.perf_counter()
            query = f"data.{c.package}.{c.name}"
            try:
                value_input = None
                if c.case is not None:
                    request = {"entrypoint": _entrypoint(c.case), "input": None}
                    (value_input,) = pool.run([(c.case, json.dumps(request))])
                request = {"entrypoint": _entrypoint(query), "input": value_input}
                (value,) = pool.run([(query, json.dumps(request))])
                status = "PASS" if value is True else "FAIL"
                detail = "" if value is True else f"got {value!r}"
            except PolicyError as exc:
                undefined = "is undefined" in exc.message
                status = "FAIL" if undefined else "ERROR"
                detail = "undefined (a body expression was false)" if undefined else exc.message
                pool.ensure(1)
            elapsed = time.perf_counter() - start
            results.append(TestResult(library.display(c.module), c.line, c.package, c.name, status, detail, elapsed))
    finally:
        pool.close()
    if reference is None:
        return results
    return _on_reference(library, cases, results, reference)


def _on_reference(
    library: PolicyLibrary, cases: list[TestCase], results: list[TestResult], reference: Reference
) -> list[TestResult]:
    """Each test evaluated on OPA as written; a disagreement with rego-cpp becomes an ERROR naming both."""
    from engine.policy.reference import EMBEDDED, ENGINE, Outcome

    sources = {library.display(n): s for n, s in {**library.modules, **library.tests}.items()}
    # One query per test package (OPA prepares each distinct query: ~60 ms apiece); a
    # package whose document errors is asked again test by test, so the error lands on its test.
    packages = sorted({c.package for c in cases})
    documents = dict(zip(packages, reference.evaluate(sources, [(p, None) for p in packages]), strict=True))
    retry = [c for c in cases if documents[c.package].error]
    single = dict(zip(
        [(c.package, c.name) for c in retry],
        reference.evaluate(sources, [(f"{c.package}.{c.name}", None) for c in retry]) if retry else [],
        strict=True,
    ))
    outcomes = []
    for c in cases:
        doc = documents[c.package]
        if doc.error:
            outcomes.append(single[(c.package, c.name)])
        elif isinstance(doc.value, dict) and c.name in doc.value:
            outcomes.append(Outcome(doc.value[c.name]))
        else:
            outcomes.append(Outcome(undefined=True))
    out: list[TestResult] = []
    for r, o in zip(results, outcomes, strict=True):
        theirs = "ERROR" if o.error else "PASS" if o.value is True else "FAIL"
        said = o.error or ("undefined" if o.undefined else json.dumps(o.value))
        if theirs == r.status:
            out.append(replace(r, reference=theirs))
            continue
        mine = r.detail or "true"
        detail = f"the engines disagree: {EMBEDDED} {r.status} ({mine}), {ENGINE} {theirs} ({said})"
        out.append(replace(r, status="ERROR", detail=detail, reference=theirs))
    return out
