"""Turn mutmut's results (``mutants/**/*.meta``) into README's "surviving mutants" table (issue 22).

``make mutate`` runs mutmut over the modules that carry govops' promises, then this script:
per module, the mutants killed and survived and the kill rate; then every survivor with the
line it changed and why it lives (a known equivalent mutant, from ``EQUIVALENT`` below, or
"not yet killed"). Only mutants that were run count: for ``engine/gateway/app.py`` only tenant
admission (``Gateway._authorise``) is mutated on purpose, so only its mutants are reported.

Usage: ``python scripts/mutation_report.py [--min-rate 90] [--markdown FILE]``; exit 1 when any
module's kill rate is below ``--min-rate`` (issue 22: at least 90 % on every listed module).
Every survivor is listed with its line, and one with no recorded reason is marked "not yet
killed" and named again on stderr, so the table never hides one. Mutants that were not run
are counted per module. Run from the repository root, after ``mutmut run``.
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
_SPLIT0 = "only element [0] of the split is used, which no maxsplit changes"
_THREADS = "the thread count changes only how fast the columns are computed, never a value"
_STRICT_ZIP = "the two sequences are built from the same list, so their lengths are always equal"
EQUIVALENT: dict[str, str] = {
    # gateway
    "engine.gateway.guard.xǁPathGuardǁ__call____mutmut_21": "a scope without a path yields b'XXXX' instead of b'', "
    "neither of which is refused",
    "engine.gateway.guard.xǁPathGuardǁ__call____mutmut_23": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "engine.gateway.guard.xǁPathGuardǁ__call____mutmut_31": _SPLIT0,
    "engine.gateway.guard.xǁPathGuardǁ__call____mutmut_34": _SPLIT0,
    "engine.gateway.app.xǁGatewayǁ_authorise__mutmut_47": "HTTP header names are case-insensitive (Starlette "
    "lower-cases them)",
    "engine.gateway.app.xǁGatewayǁ_authorise__mutmut_48": "HTTP header names are case-insensitive (Starlette "
    "lower-cases them)",
    "engine.gateway.auth.x_keys_from_file__mutmut_31": _SPLIT0.replace("[0]", "[1]") + " while the message has "
    "one dot",
    "engine.gateway.auth.x_keys_from_file__mutmut_32": "rsplit and split pick the same tenant unless a tenant "
    "holds two dots, which tenant names (DNS labels) cannot",
    "engine.gateway.auth.x_keys_from_file__mutmut_34": _SPLIT0.replace("[0]", "[1]") + " while the message has "
    "one dot",
    "engine.gateway.auth.x_keys_from_file__mutmut_45": "with no tenant, position(('gatewayKeys', None)) falls back "
    "to the nearest ancestor, gatewayKeys, the same place",
    "engine.gateway.auth.x_load_keys__mutmut_2": "get_settings(None) reads os.environ itself",
    "engine.gateway.auth.x_load_keys__mutmut_10": "root / an absolute path is that absolute path (pathlib)",
    "engine.gateway.auth.x_load_keys__mutmut_19": "pairs is still empty here, so = and += give the same list",
    # statistics
    "engine.statistics.drift.x__read_cached__mutmut_2": "allow_pickle=None is falsy, the same as False",
    "engine.statistics.drift.x__read_cached__mutmut_4": "np.load's default is allow_pickle=False",
    "engine.statistics.drift.x__read_cached__mutmut_38": "the column is numeric: count, min and max compare the "
    "same in its own dtype as in float64",
    "engine.statistics.drift.x__read_cached__mutmut_40": "the column is numeric: count, min and max compare the "
    "same in its own dtype as in float64",
    "engine.statistics.drift.x__threads__mutmut_10": _THREADS,
    "engine.statistics.drift.x__threads__mutmut_12": _THREADS + " (and os.cpu_count() is never None here)",
    "engine.statistics.drift.x_numeric_drift__mutmut_17": "p_value is overwritten for every column that has "
    "statistics before it is returned",
    "engine.statistics.drift.x_numeric_drift__mutmut_32": "float('NAN') is float('nan'), and it is overwritten",
    "engine.statistics.drift.x_numeric_drift__mutmut_41": _THREADS,
    "engine.statistics.drift.x_numeric_drift__mutmut_42": _THREADS,
    "engine.statistics.drift.x_numeric_drift__mutmut_43": _THREADS,
    "engine.statistics.drift.x_numeric_drift__mutmut_67": _STRICT_ZIP,
    "engine.statistics.drift.x_numeric_drift__mutmut_70": _STRICT_ZIP,
    "engine.statistics.drift.x_numeric_drift__mutmut_71": _STRICT_ZIP,
    "engine.statistics.drift.x_sorted_reference__mutmut_49": _THREADS,
    "engine.statistics.drift.x_sorted_reference__mutmut_50": _THREADS,
    "engine.statistics.drift.x_sorted_reference__mutmut_51": _THREADS,
    **{f"engine.statistics.drift.x_two_sample__mutmut_{i}": "the dtype or output buffer numpy picks anyway "
       "(float64 / int64, a fresh array): same values" for i in (25, 27, 39, 42, 54, 56, 59, 62, 65, 77, 84, 87, 95)},
    **{f"engine.statistics.drift.x_two_sample__mutmut_{i}": "int32 vs int64 counters differ only above 2**31 "
       "values, beyond any column that fits in memory here" for i in (46, 47, 48, 49, 50, 51)},
    "engine.statistics.drift.x_two_sample__mutmut_10": "ties between the samples are read at the end of their run "
    "of equal values, where the order inside the run does not matter",
    "engine.statistics.drift.x_two_sample__mutmut_105": "diff lies in [-1, 1], so the dropped bound never binds",
    "engine.statistics.drift.x_two_sample__mutmut_106": "diff lies in [-1, 1], so the dropped bound never binds",
    **{f"engine.statistics.drift.x_ks_p_value__mutmut_{i}": "the array is float64 already (astype(None) is "
       "float64)" for i in (3, 5, 7, 13)},
    **{f"engine.statistics.drift.x_ks_p_value__mutmut_{i}": "survival-function values lie in [0, 1], so the "
       "changed clip bound never binds" for i in (49, 50, 55)},
    **{f"engine.statistics.drift.x_ks_p_value__mutmut_{i}": "moves where the limiting distribution replaces "
       "scipy's exact tail; in that region both are within the documented 1e-12 of each other"
       for i in (24, 25, 29, 30, 32, 37)},
    "engine.statistics.drift.x_two_sample__mutmut_113": "diff lies in [-1, 1], so the changed bound never binds",
    **{f"engine.statistics.drift.x_two_sample__mutmut_{i}": "with one distinct value diff[:-1] and np.diff(x) are "
       "both empty and their dot product is 0.0, the value of the else branch" for i in (116, 126)},
    **{f"engine.statistics.metrics.x_regression_metrics__mutmut_{i}": "scikit-learn converts the targets itself "
       "(check_array dtype='numeric' parses text; arithmetic with the float64 predictions is float64): the same "
       "figures for text, bytes, bool, int64 and float32 targets" for i in (3, 5)},
    "engine.statistics.metrics.x_classification_metrics__mutmut_20": "pos is read only when the task is binary",
    "engine.statistics.metrics.x_classification_metrics__mutmut_40": "f1_score's default is average='binary'",
    **{f"engine.statistics.metrics.x_classification_metrics__mutmut_{i}": "f1_score's default zero_division='warn' "
       "gives 0 with a warning, and _safe silences warnings" for i in (41, 59)},
    "engine.statistics.metrics.x_classification_metrics__mutmut_65": "with one class in the rows both branches give "
    "None for ROC AUC (roc_auc_score raises ValueError) and make the same log_loss call",
    "engine.statistics.metrics.x_classification_metrics__mutmut_79": "only a binary model whose declared positive "
    "class is not among its classes gets here: roc_auc_score refuses its 2-column probabilities for a binary "
    "target (ValueError), so None, as in the else branch",
    **{f"engine.statistics.metrics.x_classification_metrics__mutmut_{i}": "with every class of the model in the "
       "rows the default labels (sorted unique y) are the classes (roc_auc_score refuses unordered labels); with a "
       "class missing scikit-learn gives nan with labels and raises without: None either way" for i in (92, 97)},
    "engine.statistics.metrics.x_classification_metrics__mutmut_121": "log_loss(y, None) raises ValueError, which "
    "_safe turns into None",
    "engine.report.handover.x__same__mutmut_18": "math.isclose's default is abs_tol=0.0",
    "engine.statistics.metrics.x_regression_metrics__mutmut_32": "for one row scikit-learn's r2_score is nan "
    "(and for none it raises ValueError), which _safe turns into None: the guard only saves the call",
    **{f"engine.statistics.sketch.x{k}__mutmut_5": "pandas.factorize's default is use_na_sentinel=True"
       for k in ("ǁCategoricalSketchǁadd", "_row_keys")},
    "engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_19": "pandas.factorize lists only values that occur, "
    "so the largest code is len(uniques) - 1 and bincount's own length is len(uniques) (0 when all are missing)",
    **{f"engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_{i}": "uniques and the bincount always have the "
       "same length (see mutant 19), so strict never fires" for i in (22, 25)},
    "engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_27": "np.asarray(values) is an ndarray, so "
    "pandas.factorize returns ndarray uniques, which always have tolist",
    **{f"engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_{i}": "list(uniques) yields numpy scalars where "
       "tolist yields Python ones; category_key keys both alike (np.float64 is a float, np.int64 and np.bool_ are "
       "handled). Only a datetime64/timedelta64 array would differ, and no caller passes one (the profile passes "
       "CSV columns: int, float, bool or object; monitoring float64 or object columns)" for i in (26, 28, 32, 33)},
    "engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_34": "the else branch is never taken (mutant 27): "
    "list(None) is never evaluated",
    "engine.statistics.sketch.xǁCategoricalSketchǁadd__mutmut_35": "uniques and the bincount always have the "
    "same length (see mutant 19), so strict never fires",
    "engine.statistics.sketch.xǁNumericSketchǁadd__mutmut_60": "einsum subscripts are letters of either case: "
    "'I,I->' is the same contraction as 'i,i->'",
    **{f"engine.statistics.sketch.x_numeric_reference__mutmut_{i}": "np.zeros' default dtype is float64"
       for i in (14, 16)},
    **{f"engine.statistics.sketch.x_numeric_reference__mutmut_{i}": "a placeholder: both count arrays are replaced "
       "two lines below, before anything reads them" for i in (41, 42, 56, 58, 59, 61, 63, 64)},
    "engine.statistics.drift.x_quantile_edges__mutmut_14": "i*n//bins <= (bins-1)*n/bins < n for i < bins, so the "
    "index never reaches the bound, n - 1 or n + 1",
    "engine.policy.exact.x__bad_path__mutmut_14": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    **{f"engine.statistics.sketch.x_row_keys__mutmut_{i}": "the list ends in None next to strings, so numpy infers "
       "dtype=object anyway" for i in (10, 12)},
    **{f"engine.statistics.sketch.x_js_and_psi__mutmut_{i}": "the counts are Python ints: an int64 array divided by "
       "its sum is the same float64 division as with float counts (exact below 2**53)" for i in (13, 15, 23, 25)},
    "engine.statistics.drift.x_sort_finite__mutmut_9": "for an empty array the other branch also gives n = 0",
    "engine.statistics.drift.x_sort_finite__mutmut_14": "slicing an empty array to 1 element is still empty",
    "engine.spec.check_result.x_document_passes__mutmut_42": "a missing 'applicable' (None) is not False, as the "
    "default True is not",
    "engine.spec.check_result.x_document_passes__mutmut_44": "a missing 'applicable' (None) is not False, as the "
    "default True is not",
    "engine.policy.exact.x_loads_strict__mutmut_4": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    **{f"engine.policy.exact.x_rego_json__mutmut_{i}": "repr of a float holds no whitespace, no 'XXeXX' and no "
       "'E', so the split keeps the whole text, whose only '.' (if any) is the mantissa's: the same test"
       for i in (30, 31, 32)},
    **{f"engine.policy.exact.x__significant_digits__mutmut_{i}": "an upper-case 'E' exponent occurs only in the "
       "document's text, where this count is a prefilter: keeping the exponent makes the count larger or equal, so "
       "more documents reach the walk, which decides on repr (always a lower-case 'e')" for i in (2, 10, 11)},
    "engine.policy.exact.x__significant_digits__mutmut_6": "lstrip('XX-XX') strips the characters X and -, and no "
    "number starts with X",
    "engine.policy.exact.x_loads_strict__mutmut_16": "walking a document with no bad string finds nothing: only "
    "slower",
    # check results and the hand-over
    "engine.spec.check_result.xǁCheckResultǁwrite__mutmut_10": "the temporary file's name is internal: any name "
    "beside the target gives the same atomic replace",
    "engine.spec.check_result.xǁCheckResultǁwrite__mutmut_11": "the temporary file's name is internal: any name "
    "beside the target gives the same atomic replace",
    "engine.spec.check_result.xǁCheckResultǁwrite__mutmut_16": "sort_keys=None is falsy, the same as False",
    "engine.spec.check_result.xǁCheckResultǁwrite__mutmut_19": "json.dumps' default is sort_keys=False",
    "engine.report.handover.x__same__mutmut_14": "math.isclose's default is abs_tol=0.0",
    "engine.report.handover.x_read_one__mutmut_31": "the size was checked (lstat) just before: only a file that "
    "grows in between could tell a bounded read from an unbounded one",
    "engine.report.handover.x_read_one__mutmut_33": "the size was checked (lstat) just before: only a file that "
    "grows in between could tell a read of cap+1 from one of cap+2 bytes",
    "engine.report.handover.x_result_file__mutmut_6": "a model id has one slash; with more, both splits join to "
    "the same path",
    "engine.report.handover.x_workflow_edits__mutmut_5": _SPLIT0,
    "engine.report.handover.x_workflow_edits__mutmut_8": _SPLIT0,
    # policy
    "engine.policy.judge.xǁ_TreeReaderǁfiles__mutmut_21": "run_git runs git at the top of the work tree, where "
    "--full-tree changes nothing",
    **{f"engine.policy.judge.xǁ_TreeReaderǁfiles__mutmut_{i}": "ls-tree then lists more (the whole tree, or one "
       "more literal pathspec), and the name filter startswith(git_dir + '/') keeps the same entries"
       for i in (24, 33)},
    "engine.policy.judge.xǁ_TreeReaderǁfiles__mutmut_40": "with -z every entry ends in NUL, so the only empty "
    "piece of the split is the last one: break and continue both end the loop there",
    "engine.audit.chain.x_check_signatures__mutmut_104": "a digest is 'sha256:...', never '' nor 'XXXX': with no "
    "announced record both look-ups find nothing",
    **{f"engine.audit.chain.x__private_file__mutmut_{i}": "os has O_NOFOLLOW and O_CLOEXEC on every platform govops "
       "runs on (Linux, macOS): getattr's default is never used" for i in (8, 11, 14, 17, 20, 23)},
    **{f"engine.audit.chain.x__private_file__mutmut_{i}": "dropping O_NOFOLLOW changes nothing next to O_EXCL, which "
       "already refuses any existing path, a symbolic link included" for i in (6, 12, 13)},
    **{f"engine.audit.chain.x__private_file__mutmut_{i}": "dropping O_CLOEXEC is invisible: govops starts git with "
       "subprocess, which closes inherited descriptors (close_fds=True)" for i in (15, 21, 22)},
    "engine.audit.chain.x__private_file__mutmut_2": "drops both O_NOFOLLOW and O_CLOEXEC: see mutants 6 and 15",
    "engine.audit.chain.x_integrity_marks__mutmut_3": "with no config, getattr(None, 'ledger', None) is None too",
    "engine.policy.backend.xǁPolicyBackendǁload__mutmut_1": "a Protocol's signature: its default is never used "
    "(each backend declares its own)",
}

# Survivors that are NOT equivalent (some input would tell them apart) but that no test kills yet,
# with why: they count against the kill rate, and the table says so.
NOT_KILLED: dict[str, str] = {
    **{f"engine.policy.judge.xǁ_TreeReaderǁfiles__mutmut_{i}": "differs only for an empty directory name ('' or "
       "'/'), which no policy directory setting gives" for i in (2, 3)},
    "engine.policy.judge.xǁ_TreeReaderǁfiles__mutmut_23": "without '--' a directory whose name begins with '-' "
    "would be read as an option; no test has one",
    "engine.audit.chain.x__private_file__mutmut_48": "the tempfile fallback runs only where neither $TMPDIR nor "
    "/tmp is a writable directory, which no test machine lacks",
    "engine.audit.chain.x__private_file__mutmut_3": "O_EXCL & O_NOFOLLOW is 0, so the file is no longer created "
    "exclusively: only a file already at the random 16-hex-digit name would tell",
}


@dataclass
class ModuleResult:
    """The mutants of one source file that were run, by outcome."""

    path: str
    killed: int = 0
    survived: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def equivalent(self) -> list[str]:
        """Survivors recorded as equivalent mutants (no observable difference): not counted in the rate."""
        return [n for n in self.survived if n in EQUIVALENT]

    @property
    def live(self) -> list[str]:
        """Survivors that are not known equivalents: what the kill rate counts against the tests."""
        return [n for n in self.survived if n not in EQUIVALENT]

    @property
    def rate(self) -> float | None:
        judged = self.killed + len(self.live)
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
    lines = ["| module | killed | survived | equivalent | not run | kill rate |", "|---|---:|---:|---:|---:|---:|"]
    total_k = total_s = total_e = 0
    for r in results:
        rate = f"{r.rate:.1f} %" if r.rate is not None else "-"
        scope = " (`Gateway._authorise`)" if r.path in SCOPE else ""
        not_run = sum(r.other.values())
        lines.append(f"| `{r.path}`{scope} | {r.killed} | {len(r.live)} | {len(r.equivalent)} | {not_run} | {rate} |")
        total_k += r.killed
        total_s += len(r.live)
        total_e += len(r.equivalent)
    overall = 100.0 * total_k / (total_k + total_s) if total_k + total_s else 0.0
    total_n = sum(sum(r.other.values()) for r in results)
    lines.append(f"| **all** | **{total_k}** | **{total_s}** | **{total_e}** | **{total_n}** | **{overall:.1f} %** |")
    unexplained: list[str] = []
    survivors = [(r.path, n) for r in results for n in r.survived]
    if survivors:
        lines += ["", "Surviving mutants:", "", "| mutant | change | why it survives |", "|---|---|---|"]
        for _path, name in survivors:
            reason = EQUIVALENT.get(name)
            if reason is None and name in NOT_KILLED:
                reason = f"**not killed** (counted): {NOT_KILLED[name]}"
            if reason is None:
                unexplained.append(name)
                reason = "**not yet killed** (no reason recorded)"
            change = changed_line(name) if diffs else ""
            lines.append(f"| `{name}` | {change} | {reason} |")
    return "\n".join(lines) + "\n", total_k, total_s, unexplained


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 1 when a module is below ``--min-rate`` (unexplained survivors are named)."""
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
    problems = [f"{r.path}: kill rate {r.rate:.1f} % is below {args.min_rate:g} %"
                for r in results if r.rate is not None and r.rate < args.min_rate]
    for p in problems:
        print(f"mutation_report: {p}", file=sys.stderr)
    if unexplained:
        print(f"mutation_report: {len(unexplained)} survivor(s) not yet killed and without a recorded reason "
              "(listed above): kill each with a test or record why it is equivalent", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
