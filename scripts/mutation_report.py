"""Turn mutmut's results (``mutants/**/*.meta``) into README's "surviving mutants" table (issue 22).

``make mutate`` runs mutmut over the modules that carry govops' promises, then this script:
per module, the mutants killed and survived and the kill rate; then every survivor with the
line it changed and why it lives (a known equivalent mutant, from ``EQUIVALENT`` below, or
"not yet killed"). Only mutants that were run count: for ``engine/gateway/app.py`` only tenant
admission (``Gateway._authorise``) is mutated on purpose, so only its mutants are reported.

Usage: ``python scripts/mutation_report.py [--min-rate 90] [--markdown FILE]``; exit 1 when the
overall kill rate is below ``--min-rate`` or a survivor has no recorded reason (so the table
never hides an unexplained survivor). Run from the repository root, after ``mutmut run``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

MUTANTS = Path("mutants")

# Which mutants of each file are reported (the rest of the file is not part of the promise).
SCOPE = {
    "engine/gateway/app.py": ["engine.gateway.app.xǁGatewayǁ_authorise__mutmut_*"],
}

# exit code -> status, as mutmut 3 records them (mutmut.stats.status_by_exit_code)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          35: "suspicious", 36: "timeout", 37: "caught by type check", -24: "timeout", 24: "timeout",
          152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault", 2: "interrupted", None: "not checked"}
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
UNDETECTED = {"survived", "no tests", "suspicious"}

# Survivors that are equivalent mutants (no observable difference), with the reason. Keyed by
# mutmut's name; a name changes only when its function changes, and then the survivor shows
# up again as unexplained, to be judged anew.
EQUIVALENT: dict[str, str] = {}


@dataclass
class ModuleResult:
    """The mutants of one source file that were run, by outcome."""

    path: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        judged = self.killed + len(self.survived)
        return 100.0 * self.killed / judged if judged else None


def in_scope(path: str, name: str) -> bool:
    patterns = SCOPE.get(path)
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def collect(root: Path) -> list[ModuleResult]:
    """One result per mutated file that has at least one mutant that was run."""
    out: list[ModuleResult] = []
    for meta in sorted((root / MUTANTS).rglob("*.py.meta")):
        path = meta.relative_to(root / MUTANTS).as_posix().removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        result = ModuleResult(path)
        for name, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
            if not in_scope(path, name):
                continue
            status = STATUS.get(code, "suspicious")
            if status in DETECTED:
                result.killed += 1
            elif status in UNDETECTED:
                result.survived.append(name)
            else:
                result.other[status] = result.other.get(status, 0) + 1
        if result.killed or result.survived:
            out.append(result)
    return out


def _natural(name: str) -> tuple[str, int]:
    head, _, number = name.rpartition("__mutmut_")
    return head, int(number) if number.isdigit() else 0


def changed_line(name: str) -> str:
    """The line the mutant changed, ``old -> new`` (needs mutmut; empty when it cannot be read)."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        diff = get_diff_for_mutant(name)
    except Exception:  # noqa: BLE001 - the table is still useful without the diff
        return ""
    old = [x[1:].strip() for x in diff.splitlines() if x.startswith("-") and not x.startswith("---")]
    new = [x[1:].strip() for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++")]
    return f"`{' '.join(old)[:90]}` → `{' '.join(new)[:90]}`"


def render(results: list[ModuleResult], *, diffs: bool = True) -> tuple[str, int, int, list[str]]:
    """The markdown table, total killed, total survived and the survivors without a reason."""
    lines = ["| module | killed | survived | kill rate |", "|---|---:|---:|---:|"]
    total_k = total_s = 0
    for r in results:
        rate = f"{r.rate:.1f} %" if r.rate is not None else "-"
        scope = " (`Gateway._authorise`)" if r.path in SCOPE else ""
        lines.append(f"| `{r.path}`{scope} | {r.killed} | {len(r.survived)} | {rate} |")
        total_k += r.killed
        total_s += len(r.survived)
    overall = 100.0 * total_k / (total_k + total_s) if total_k + total_s else 0.0
    lines.append(f"| **all** | **{total_k}** | **{total_s}** | **{overall:.1f} %** |")
    unexplained: list[str] = []
    survivors = [(r.path, n) for r in results for n in r.survived]
    if survivors:
        lines += ["", "Surviving mutants:", "", "| mutant | change | why it survives |", "|---|---|---|"]
        for _path, name in survivors:
            reason = EQUIVALENT.get(name)
            if reason is None:
                unexplained.append(name)
                reason = "**not yet killed** (no reason recorded)"
            change = changed_line(name) if diffs else ""
            lines.append(f"| `{name}` | {change} | {reason} |")
    return "\n".join(lines) + "\n", total_k, total_s, unexplained


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 below ``--min-rate`` or with an unexplained survivor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-rate", type=float, default=90.0, help="fail below this overall kill rate (%%)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--no-diff", action="store_true", help="do not show each survivor's changed line")
    args = parser.parse_args(argv)
    root = Path.cwd()
    if not (root / MUTANTS).is_dir():
        print("no mutants/ here: run `make mutate` (or `mutmut run`) first", file=sys.stderr)
        return 2
    results = collect(root)
    table, killed, survived, unexplained = render(results, diffs=not args.no_diff)
    print(table, end="")
    if args.markdown:
        args.markdown.write_text(table)
    rate = 100.0 * killed / (killed + survived) if killed + survived else 0.0
    problems = []
    if rate < args.min_rate:
        problems.append(f"kill rate {rate:.1f} % is below {args.min_rate:g} %")
    if unexplained:
        problems.append(f"{len(unexplained)} survivor(s) without a recorded reason")
    for p in problems:
        print(f"mutation_report: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
