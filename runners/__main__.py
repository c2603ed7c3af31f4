"""``python -m runners CHECK --spec FILE --model ID --out FILE [--summary FILE]``: one check, one result file.

The Argo step's entry point (and a handy local one). Exit codes: 0 the check passed,
1 it failed, 2 it could not run (an ``error`` result: bad input, missing data, a model
that raises) or the command line was wrong. Whenever ``--out`` is given a result file is
written, even for an error, so the workflow always has evidence to collect; ``--summary``
likewise always gets the same result as a short Markdown page (``runners.summary``) for
people reading the run in the Argo UI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.spec.check_result import CheckResult

EXIT = {"pass": 0, "fail": 1, "error": 2}


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m runners", description=__doc__)
    p.add_argument("check", help="check name (performance, drift, bias, ...)")
    p.add_argument("--spec", required=True, help="the model spec file (relative to --repo or absolute)")
    p.add_argument("--model", required=True, help="the model id tenant/name (must match the spec)")
    p.add_argument("--version", default=None, help="the candidate version (default: newest challenger)")
    p.add_argument("--champion", default=None, help="the champion version to compare with")
    p.add_argument("--thresholds", default=None, help="JSON object of thresholds (default: tier + spec)")
    p.add_argument("--repo", default=".", help="the GitOps repository root (default: .)")
    p.add_argument("--out", default=None, help="where to write the result JSON")
    p.add_argument("--summary", default=None, help="where to write a short Markdown summary of the result")
    p.add_argument("--cache-dir", default=None,
                   help="cache of sorted reference columns (default: $GOVOPS_CACHE_DIR, else the engine's "
                   "cache directory; never one inside --repo)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the check, write the result, print its sentence; exit 0/1/2."""
    p = parser()
    args = p.parse_args(argv)
    if args.summary is not None and args.out is not None and Path(args.summary).resolve() == Path(args.out).resolve():
        p.error("--summary and --out must name different files")
    from runners.runner import run_check

    root = Path(args.repo).resolve()
    thresholds = None
    result: CheckResult
    if args.thresholds is not None:
        try:
            thresholds = json.loads(args.thresholds)
            if not isinstance(thresholds, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            result = CheckResult(args.check, args.model, args.version or "", "error",
                                 f"--thresholds is not a JSON object of numbers: {exc}",
                                 error=f"--thresholds: {exc}")
            return _finish(result, args.out, args.summary)
    result = run_check(root, args.check, spec_file=args.spec, model=args.model, version=args.version,
                       champion=args.champion, thresholds=thresholds,
                       cache_dir=Path(args.cache_dir) if args.cache_dir else None)
    return _finish(result, args.out, args.summary)


def _finish(result: CheckResult, out: str | None, summary: str | None = None) -> int:
    from runners import summary as summary_page

    written = True
    for path, write in ((out, result.write), (summary, lambda p: summary_page.write(result, p))):
        if not path:
            continue
        try:
            write(Path(path))
        except OSError as exc:
            print(f"error: cannot write {path}: {exc}", file=sys.stderr)
            written = False
    if not written:
        return 2
    stream = sys.stdout if result.status != "error" else sys.stderr
    print(f"{result.model} {result.version} {result.check}: {result.status}: {result.summary}", file=stream)
    return EXIT[result.status]


if __name__ == "__main__":
    sys.exit(main())
