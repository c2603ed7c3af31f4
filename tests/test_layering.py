"""One-way layering: a stage may import only itself and the stages before it in the flow.

The engine's packages are named in the order `make demo` walks them (spec → change → policy →
validation → report → rollout → gateway → monitoring → audit), with the CLI and its commands on
top and the checks (``runners/``) beside validation. A newcomer can only trust that order if it is
enforced, so this test reads every import — module-level *and* inside functions, since a deferred
import is still a dependency — with ``ast`` and fails on:

* a stage importing a later stage (the foundation packages are rank 0 and may not import each
  other, except MLServer's client raising errors of the one error tree in ``engine.spec.errors``);
* anything below the top importing ``engine.cli``, ``engine.commands``, ``engine.scaffold`` or
  ``engine.examples``;
* ``runners`` importing anything of ``engine`` beyond the foundation (``engine.spec``,
  ``engine.mlserver``, ``engine.statistics``): the checks run in a sandbox image that must not
  drag the engine's later stages in;
* anything of ``engine`` other than the validation stage (whose executors run the checks) and
  the top importing ``runners``.

The second test proves the checker itself catches a forbidden import, so a regression in the
checker cannot turn this test into a silent pass.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Stage ranks in flow order. Rank 0 is the foundation every stage may read.
RANKS: dict[str, int] = {
    "spec": 0,
    "mlserver": 0,
    "statistics": 0,
    "change": 1,
    "policy": 2,
    "validation": 3,
    "report": 4,
    "rollout": 5,
    "gateway": 6,
    "monitoring": 7,
    "audit": 8,
}
FOUNDATION = frozenset(name for name, rank in RANKS.items() if rank == 0)
TOP_MODULES = frozenset({"cli", "commands", "scaffold", "examples", "templates"})
TOP = "top"
RUNNERS = "runners"
RUNNERS_MAY_IMPORT = FOUNDATION
RUNNERS_MAY_BE_IMPORTED_BY = frozenset({"validation", TOP})
# (importer, imported) pairs of foundation packages that may meet: the MLServer client's errors are
# GovopsErrors (one error tree, engine.spec.errors); spec never reads MLServer, statistics reads nothing.
FOUNDATION_EDGES = frozenset({("mlserver", "spec")})
PACKAGE = "engine"  # the bare package: its __init__ holds only the version and imports nothing


@dataclass(frozen=True)
class Violation:
    """One forbidden import: where it is, what it imports, and the two stages involved."""

    file: str
    line: int
    imported: str
    importer_stage: str
    imported_stage: str
    rule: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: imports {self.imported} "
            f"({self.importer_stage} -> {self.imported_stage}): {self.rule}"
        )


def stage_of(module: str) -> str | None:
    """The stage a dotted module name belongs to, or None when it is outside engine/ and runners/."""
    parts = module.split(".")
    if parts[0] == RUNNERS:
        return RUNNERS
    if parts[0] != "engine":
        return None
    if len(parts) == 1:
        return PACKAGE
    if parts[1] in TOP_MODULES:
        return TOP
    if parts[1] in RANKS:
        return parts[1]
    return PACKAGE  # a name of engine/__init__ (`from engine import __version__`); see test_engine_top_level_is_known


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a file under root."""
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every (line, dotted module) imported anywhere in the tree, function bodies included.

    ``from engine import spec`` names the submodule ``engine.spec``; relative imports are
    resolved against the importing module.
    """
    found: list[tuple[int, str]] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target == "engine":
                # `from engine import spec`: each name is a submodule, and its stage is the import's.
                found.extend((node.lineno, f"engine.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def check_import(importer: str, imported: str) -> str | None:
    """Why importer may not import imported, or None when the import is allowed."""
    src = stage_of(importer)
    dst = stage_of(imported)
    if src is None or dst is None or src == dst:
        return None
    if src == PACKAGE:
        return "engine/__init__ may not import anything of engine or runners (every stage imports it)"
    if dst == PACKAGE:
        return None  # engine/__init__ holds the version and nothing else
    if src == RUNNERS:
        if dst in RUNNERS_MAY_IMPORT:
            return None
        return "runners may import only engine.spec, engine.mlserver and engine.statistics"
    if dst == RUNNERS:
        if src in RUNNERS_MAY_BE_IMPORTED_BY:
            return None
        return "only engine.validation (the executors) and the top may import runners"
    if src == TOP:
        return None
    if dst == TOP:
        return "only the top may import engine.cli, engine.commands, engine.scaffold, engine.examples"
    if src in FOUNDATION and dst in FOUNDATION:
        if (src, dst) in FOUNDATION_EDGES:
            return None
        return "foundation packages (spec, mlserver, statistics) may not import each other"
    if RANKS[dst] > RANKS[src]:
        return "a stage may not import a later stage"
    return None


def find_violations(root: Path) -> list[Violation]:
    """Every forbidden import in root's engine/ and runners/ trees."""
    violations: list[Violation] = []
    for top in ("engine", RUNNERS):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            module = module_name(path, root)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, imported in imported_modules(tree, module, path.name == "__init__.py"):
                rule = check_import(module, imported)
                if rule is not None:
                    violations.append(
                        Violation(
                            file=str(path.relative_to(root)),
                            line=line,
                            imported=imported,
                            importer_stage=str(stage_of(module)),
                            imported_stage=str(stage_of(imported)),
                            rule=rule,
                        )
                    )
    return violations


def test_engine_and_runners_import_one_way() -> None:
    violations = find_violations(ROOT)
    assert not violations, "forbidden imports:\n" + "\n".join(str(v) for v in violations)


def test_engine_top_level_is_known() -> None:
    """Every entry of engine/ is a ranked stage or part of the top, so none escapes the check above."""
    known = set(RANKS) | TOP_MODULES | {"__init__"}
    found = {p.stem for p in (ROOT / "engine").iterdir() if p.name != "__pycache__" and not p.name.startswith(".")}
    assert found - known == set(), "rank new engine/ packages in tests/test_layering.py"


def test_checker_reports_a_forbidden_import(tmp_path: Path) -> None:
    def write(rel: str, text: str = "") -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    write("engine/__init__.py")
    write("engine/spec/__init__.py")
    write("engine/audit/__init__.py")
    write("engine/audit/trail.py", "from engine.spec import x\n")  # allowed: later imports earlier
    write("engine/policy/check.py", "def f():\n    from engine.change import plan\n")  # allowed, in a function
    write("engine/spec/x.py", '"""Spec."""\n\n\ndef load():\n    import engine.audit.trail\n')
    assert [str(v) for v in find_violations(tmp_path)] == [
        "engine/spec/x.py:5: imports engine.audit.trail (spec -> audit): a stage may not import a later stage"
    ]


def test_checker_rules() -> None:
    assert check_import("engine.spec.x", "engine.cli") is not None
    assert check_import("engine.audit.x", "engine.commands.check") is not None
    assert check_import("engine.commands.check", "engine.audit.trail") is None
    assert check_import("runners.checks.bias", "engine.statistics.fairness") is None
    assert check_import("runners.checks.bias", "engine.monitoring.sketch") is not None
    assert check_import("engine.monitoring.sketch", "runners.stats") is not None
    assert check_import("engine.validation.executors.local", "runners.runner") is None
    assert check_import("engine.spec.loader", "engine.mlserver.client") is not None
    assert check_import("engine.statistics.x", "engine.spec.errors") is not None
    assert check_import("engine.mlserver.client", "engine.spec.errors") is None
    assert check_import("engine.audit.ledger", "engine.__version__") is None
    assert check_import("engine", "engine.spec.model") is not None
    tree = ast.parse("from engine import cli\nfrom . import y\nfrom ..gateway import server\n")
    assert imported_modules(tree, "engine.rollout.targets.local", False) == [
        (1, "engine.cli"),
        (2, "engine.rollout.targets"),
        (3, "engine.rollout.gateway"),
    ]
