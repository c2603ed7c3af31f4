"""Roll the desired state (the specs at a Git ref) out to MLServer or to Kubernetes manifests.

Prints the diff between what serves and what the ref says (like ``kubectl diff``),
then, unless ``--dry-run``, applies it health-gated: each new version must be ready and
answer a smoke inference before it takes traffic and before the old one is unloaded.
Every rollout that changes something is recorded as a git note (``refs/notes/govops``)
on the rolled-out commit. Exit codes: 0 done or in sync, 1 the rollout failed (the
previous state keeps serving), 2 bad input (unknown ref, invalid spec, bad flags).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_OK, GovernanceFailure, UsageError

if TYPE_CHECKING:
    from engine.rollout.desired import DesiredState
    from engine.rollout.diff import LiveState
    from engine.rollout.targets import RolloutResult

NAME = "rollout"
HELP = "roll the specs at a Git ref out to MLServer (local) or Kubernetes manifests, health-gated"
ORDER = 70


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops rollout``."""
    parser.add_argument("--ref", default="HEAD", help="the Git ref whose specs are the desired state "
                        "(default: HEAD; WORKTREE reads the working tree)")
    parser.add_argument("--target", choices=["local", "kubernetes"], default="local",
                        help="local: a supervised MLServer here (default); kubernetes: manifests")
    parser.add_argument("--flavor", choices=["seldon", "kserve"], default="seldon",
                        help="kubernetes manifests for Seldon Core v2 (default) or KServe")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the diff (and, for kubernetes, write the manifests) without changing anything")
    parser.add_argument("--out", type=Path, metavar="DIR", help="kubernetes: write one manifest per object here")
    parser.add_argument("--apply", action="store_true", help="kubernetes: run kubectl apply --server-side")
    parser.add_argument("--namespace", help="kubernetes: namespace (default: govops.yaml environments)")
    parser.add_argument("--artifact-base", metavar="URL",
                        help="kubernetes: object-storage prefix for repository-relative artifacts "
                        "(default: GOVOPS_ARTIFACT_BASE or s3://govops-artifacts)")
    parser.add_argument("--evidence", type=Path, metavar="DIR",
                        help="the PR check's output directory: its validation results and policy decisions "
                        "are recorded in the ledger")
    parser.add_argument("--allow-missing-evidence", action="store_true",
                        help="roll out even when no PR evidence note is found for the merged change "
                        "(the choice is recorded in the ledger)")
    parser.add_argument("--push", action="store_true", help="push refs/notes/govops to the remote afterwards")
    parser.add_argument("--remote", help="remote to push the notes to (default: origin)")
    parser.add_argument("--port", type=int, help="local: HTTP port if MLServer has to be started (default: free)")
    parser.add_argument("--no-ledger", action="store_true", help="do not record the rollout as a git note")
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Compute, print and apply the rollout."""
    from engine.rollout.desired import load_desired
    from engine.rollout.targets import RolloutResult, get

    root = repo_root(args)
    if args.target == "local" and (args.out or args.apply):
        raise UsageError("--out and --apply are for --target kubernetes")
    if args.target == "kubernetes" and not (args.out or args.apply):
        raise UsageError("--target kubernetes needs --out DIR (write manifests) or --apply (kubectl)")
    desired = load_desired(root, args.ref)
    evidence, waiver = _evidence_for(args, root, desired.commit)
    options = {
        "http_port": args.port,
        "out": args.out.resolve() if args.out else None,
        "apply": bool(args.apply and not args.dry_run),
        "flavor": args.flavor,
        "namespace": args.namespace,
        "artifact_base": args.artifact_base,
    }
    target = get(args.target, root, **options)
    renders = getattr(target, "renders", False)
    with target.session(dry_run=args.dry_run and not renders):
        live = target.live(desired)
        text, changes = target.diff(desired, live)
        if args.format == "text":
            sys.stdout.write(text)
            sys.stdout.flush()
        if args.dry_run and not renders:
            result = RolloutResult(target=target.name, outcome="dry-run", changes=changes)
        else:
            result = target.apply(desired, live, changes)
    target_name = target.name if not renders else f"kubernetes/{args.flavor}"
    ledger = _record(args, root, target_name, desired, live, result, evidence, waiver)
    if args.format == "json":
        doc = {"ref": args.ref, "commit": desired.commit, "digest": desired.digest, "diff": text,
               "result": result.to_data(), "ledger": ledger}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    if result.outcome == "failed":
        print(f"error: rollout failed: {result.message}; the previous state keeps serving", file=sys.stderr)
        return EXIT_GOVERNANCE
    if args.format == "text":
        if result.outcome == "succeeded":
            print(f"rollout succeeded: {result.message}")
        elif result.outcome == "rendered":
            print(result.message)
        if ledger.get("commit"):
            print(f"recorded in refs/notes/govops on {desired.commit[:12] if desired.commit else ''}"
                  + (f"; {ledger['push']}" if ledger.get("push") else ""))
    return EXIT_OK


def _record(
    args: argparse.Namespace, root: Path, target_name: str, desired: DesiredState, live: LiveState,
    result: RolloutResult, evidence: dict[str, Any] | None, waiver: dict[str, Any] | None,
) -> dict[str, object]:
    """Record the rollout in the ledger (a git note on the commit) when it is one; what was recorded."""
    from engine.audit.ledger import append_record, build_record, push_notes

    ledger: dict[str, object] = {}
    recorded = result.outcome in ("succeeded", "failed") and bool(result.changes)
    if (not recorded and result.outcome == "in-sync" and desired.commit and not args.dry_run
            and _publishes(args, root) and not _has_rollout_record(root, desired.commit)):
        recorded = True  # a spec change that moved nothing is still a rollout of that commit: the trail has it
    if recorded and not args.no_ledger and desired.commit:
        record = build_record(
            target=target_name,
            ref=args.ref,
            commit=desired.commit,
            digest=desired.digest,
            previous_digest=live.digest,
            result=result.to_data(),
            evidence=evidence,
        )
        if waiver is not None:
            record["evidence_missing"] = waiver
        record["covers"] = covered_commits(root, desired.commit)
        from engine.audit.pr_evidence import spec_trees

        record["specs_tree"] = spec_trees(root, desired.commit)
        allowed = _allowed_signers(args, root)
        stored = append_record(root, desired.commit, record, allowed_signers=allowed)
        ledger = {"notes_ref": "refs/notes/govops", "commit": desired.commit, "seq": stored.get("seq")}
        if args.push:
            ledger["push"] = push_notes(root, args.remote, pending=[(desired.commit, record)], allowed_signers=allowed)
    elif recorded and not desired.commit and not args.no_ledger:
        ledger = {"skipped": "WORKTREE has no commit to attach the record to"}
    return ledger


def _allowed_signers(args: argparse.Namespace, root: Path) -> list[str] | None:
    from engine.spec.workspace import load_config

    config, _, _ = load_config(root, Path(args.config).resolve() if args.config else None)
    return list(config.ledger.allowed_signers) if config is not None and config.ledger is not None else None


def _publishes(args: argparse.Namespace, root: Path) -> bool:
    """Whether this rollout publishes an auditable trail: ``--push`` (CI) or a ``ledger:`` in govops.yaml."""
    if args.push:
        return True
    from engine.spec.workspace import load_config

    config, _, _ = load_config(root, Path(args.config).resolve() if args.config else None)
    return bool(config is not None and config.ledger is not None and config.ledger.require_evidence)


def _evidence_for(args: argparse.Namespace, root: Path,
                  commit: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """``(evidence, waiver)``: the PR evidence of the merged change, or why the rollout may go on without it.

    ``--evidence DIR`` reads a PR check's output directory (a local run). Otherwise the
    evidence note of the change's PR head is looked up through the merge. A published
    rollout (``--push``, or ``ledger:`` in govops.yaml) of a spec change without evidence
    fails (exit 1) unless ``--allow-missing-evidence``, which is recorded as the waiver.
    """
    import os

    from engine.audit.ledger import read_evidence
    from engine.audit.pr_evidence import find_evidence, spec_change

    if args.evidence:
        return read_evidence(args.evidence.resolve()), None
    if commit is None or args.dry_run:
        return None, None
    found = find_evidence(root, commit)
    if found is not None:
        if found.record.get("ok") is False:
            print(f"warning: the PR check of {found.head[:12]} did not pass; rolling out what main says",
                  file=sys.stderr)
        return found.for_rollout(), None
    if not spec_change(root, commit):
        return None, None
    why = (f"no PR evidence note (refs/notes/govops-evidence) matches the spec files {commit[:12]} changed: "
           "the PR check did not record it, the merged specs are not the ones it judged, or no good signature of "
           "the CI identity (govops.yaml ledger.allowedSigners) covers it")
    if args.allow_missing_evidence:
        print(f"warning: {why}; rolling out anyway (--allow-missing-evidence, recorded)", file=sys.stderr)
        actor = os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "unknown"
        return None, {"allowed_by": actor, "flag": "--allow-missing-evidence", "reason": why}
    if _publishes(args, root):
        raise GovernanceFailure(f"{why}; pass --allow-missing-evidence to roll out without it (recorded)")
    return None, None


def _has_rollout_record(root: Path, commit: str) -> bool:
    from engine.audit.evidence import is_rollout
    from engine.audit.ledger import read_ledger

    return any(is_rollout(r) for e in read_ledger(root, commit) for r in e.records)


def covered_commits(root: Path, commit: str) -> list[str]:
    """First-parent commits since the last recorded rollout that changed specs: what this rollout ships."""
    from engine.audit.pr_evidence import spec_changes_since

    return spec_changes_since(root, commit)
