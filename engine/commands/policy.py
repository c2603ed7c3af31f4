"""Policy tools: print the exact input documents (``input``) and run the Rego unit tests (``test``).

``govops policy input`` prints the JSON list of ``{"model", "input"}`` documents the
engine sends to ``data.govops.main``; replay any of them with
``opa eval -I -d policies/ data.govops.main``. ``govops policy test`` runs every
``test_*`` rule of ``policies/*_test.rego`` through regopy, one pass/fail line per
test, like ``opa test``; where OPA's Go engine is installed (``engine.policy.reference``)
every test also runs there and the library must compile on both engines. Reads only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands._common import repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK

NAME = "policy"
HELP = "policy tools: `input` prints what the engine sends, `test` runs the Rego unit tests"
ORDER = 45


def configure(parser: argparse.ArgumentParser) -> None:
    """Sub-commands ``input`` and ``test``."""
    from engine.commands.check import add_context, add_scope

    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    p_input = sub.add_parser("input", help="print the policy input documents as JSON")
    add_scope(p_input)
    add_context(p_input)
    p_input.add_argument("--validate", action="store_true",
                         help="check every input against <policy dir>/input.schema.json (exit 2 naming the field)")
    p_test = sub.add_parser("test", help="run the Rego unit tests (test_* rules in *_test.rego)")
    p_test.add_argument("--run", default=None, metavar="SUBSTRING", help="only tests whose name contains this")
    p_test.add_argument("-v", "--verbose", action="store_true", help="also print passing tests (default: yes)")
    p_test.add_argument(
        "--reference", choices=("auto", "require", "off"), default="auto",
        help="also run on OPA's Go engine: when installed (auto, default), always (require: exit 2 when it is "
             "missing), or never (off)",
    )


def run(args: argparse.Namespace) -> int:
    """Dispatch to the sub-command."""
    if args.policy_command == "input":
        return _input(args)
    return _test(args)


def _input(args: argparse.Namespace) -> int:
    from engine.commands.check import context_from_args
    from engine.policy.check import build_inputs, select
    from engine.spec.settings import get_settings

    root = repo_root(args)
    settings = get_settings()
    scope = select(
        root,
        base=args.base,
        head=args.head,
        all_models=args.all_models,
        models=args.models or None,
        context=context_from_args(args),
        config_path=Path(args.config).resolve() if args.config else None,
    )
    for d in scope.diagnostics:
        print(d.render(), file=sys.stderr)
    _, docs = build_inputs(scope, settings)
    if args.validate:
        from engine.policy.input_schema import validate_inputs

        validate_inputs(docs, root, settings.policy_dir)
    sys.stdout.write(json.dumps(docs, indent=2, allow_nan=False) + "\n")
    return EXIT_OK


def _test(args: argparse.Namespace) -> int:
    from engine.policy.reference import ENGINE, open_reference
    from engine.policy.testing import run_tests
    from engine.spec.errors import UsageError
    from engine.spec.settings import get_settings

    settings = get_settings()
    reference, how = open_reference("off" if args.reference == "off" else settings.reference_engine)
    if reference is None and args.reference == "require":
        raise UsageError(f"--reference require: {how}")
    results = run_tests(repo_root(args), settings.policy_dir, only=args.run, timeout_s=settings.policy_timeout_s,
                        reference=reference)
    for r in results:
        print(r.render())
    passed = sum(r.status == "PASS" for r in results)
    failed = len(results) - passed
    print("-" * 40)
    print(f"PASS: {passed}/{len(results)}" + (f"\nFAIL: {failed}/{len(results)}" if failed else ""))
    if reference is None:
        print(f"reference: not run ({how})")
    else:
        agreed = sum(r.reference == r.status for r in results)
        print(f"reference: {ENGINE}: compiled the library; {agreed}/{len(results)} tests decided alike")
    return EXIT_OK if failed == 0 and results else EXIT_GOVERNANCE
