"""A pull request's evidence as a git note on its head commit, and finding it again from the merge.

Audit stage (write side for the PR check, read side for the rollout). The job that posts
the PR check's statuses writes one ``govops.pr-evidence/v1`` record to
``refs/notes/govops-evidence`` on the PR's head commit: the policy decisions in OPA's
decision-log shape (re-derived here from Git with the base branch's rules, input embedded),
the validation results with the digests of the data and artifacts they read, the approvals
with the reviewers' identities, the CI run and Argo workflow links (each Argo run's name,
namespace, UID and UI URL, and each result's step link), and the blob id of
every spec file the change touched. The rollout of a merge finds that record through the
merge (the merge commit's second parent, the PR API, or, for squash and rebase merges, the
record whose spec blobs are exactly the merged ones), so no CI artifact is needed and the
evidence lasts as long as the repository. Nothing here changes a branch, the index or the
working tree, and an author-written string never selects evidence: a record only counts
when the merged spec bytes are the bytes it judged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import __version__
from engine.audit.ledger import (
    EVIDENCE_REF,
    FULL_EVIDENCE_REF,
    append_record,
    canonical,
    line_digest,
    parse_note,
    split_note,
)
from engine.change.gitread import cat_blobs, open_repo, run_git
from engine.change.plumbing import out_lines
from engine.spec.errors import InputError
from engine.spec.settings import get_settings

KIND = "govops.pr-evidence/v1"
_RESULT_KEYS = ("check", "model", "version", "status", "summary", "metrics", "inputs", "argo")
_ARGO_URL = re.compile(r"https?://[^\s\"']+/workflows/[^\s\"']+")


def _spec_dirs(repo: Any, sha: str) -> list[str]:
    config = _config_at(repo, sha)
    return [p.strip("/") for p in (config.spec_paths if config else ["specs"])]


def _config_at(repo: Any, sha: str) -> Any:
    from engine.change.gitread import config_from_bytes

    raw = cat_blobs(repo, [f"{sha}:govops.yaml"]).get(f"{sha}:govops.yaml")
    config, _ = config_from_bytes(raw, "govops.yaml")
    return config


def signed_evidence(repo: Any, records: dict[str, list[tuple[str, dict[str, Any]]]],
                    config: Any) -> tuple[dict[str, list[tuple[str, dict[str, Any]]]], int]:
    """Only the records a good signature of the CI identity covers, and how many were dropped.

    When ``govops.yaml`` (at the rolled-out commit: the trusted side) declares the ledger's
    allowed signers, evidence anyone with push access could have written is not evidence.
    """
    ledger = getattr(config, "ledger", None) if config is not None else None
    allowed = list(ledger.allowed_signers or []) if ledger is not None else []
    if not allowed:
        return records, 0
    from engine.audit.chain import read_ref, trusted_digests

    trusted = trusted_digests(repo, read_ref(repo, EVIDENCE_REF), allowed)
    kept = {h: [(d, r) for d, r in rs if d in trusted] for h, rs in records.items()}
    dropped = sum(len(rs) for rs in records.values()) - sum(len(rs) for rs in kept.values())
    return {h: rs for h, rs in kept.items() if rs}, dropped


def spec_blobs(repo: Any, base: str, head: str) -> dict[str, str | None]:
    """``path -> blob id at head`` (``None``: deleted) of every spec file changed in ``base...head``."""
    dirs = _spec_dirs(repo, base)
    _, out, _ = run_git(repo, "diff", "--name-only", "-z", "--no-renames", f"{base}...{head}", "--", *dirs)
    paths = [p.decode("utf-8", "replace") for p in out.split(b"\0") if p]
    return blobs_at(repo, head, paths)


def blobs_at(repo: Any, commit: str, paths: list[str]) -> dict[str, str | None]:
    """``path -> blob id`` at ``commit`` (``None`` when the path does not exist there); one ``ls-tree``."""
    if not paths:
        return {}
    _, out, _ = run_git(repo, "ls-tree", "-z", "--full-tree", commit, "--", *paths)
    found: dict[str, str] = {}
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, _, path = item.partition(b"\t")
        found[path.decode("utf-8", "replace")] = meta.split()[2].decode()
    return {p: found.get(p) for p in paths}


def _opa_record(decision: dict[str, Any], input_doc: dict[str, Any] | None, labels: dict[str, Any]) -> dict[str, Any]:
    """A govops decision as an OPA decision-log entry (``decision_id``, ``path``, ``input``, ``result``, …)."""
    revision = decision.get("revision")
    text = canonical(input_doc) if input_doc is not None else None
    return {
        "decision_id": decision.get("decision_id"),
        "path": decision.get("path") or "govops/main",
        "input": input_doc,
        "result": decision.get("result"),
        "bundles": {"govops": {"revision": revision}},
        "timestamp": decision.get("timestamp"),
        "labels": {
            **labels,
            "model": decision.get("model"),
            "backend": decision.get("backend"),
            "policy_digest": decision.get("policy_digest"),
            "input_sha256": hashlib.sha256(text.encode()).hexdigest() if text is not None else None,
        },
        # govops' own decision-record fields, kept beside the OPA shape (never dropped: README, "Interfaces")
        "model": decision.get("model"),
        "revision": revision,
        "input_digest": decision.get("input_digest"),
        "policy_digest": decision.get("policy_digest"),
        "judged_by": decision.get("judged_by"),
        "backend": decision.get("backend"),
        "cached": decision.get("cached"),
    }


def _rederive(root: Path, base: str, head: str, context: dict[str, Any] | None,
              timestamp: str | None) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The decisions and ``model -> {"model", "file", "input"}`` of the change, again from Git with the base's rules."""
    from engine.policy.check import run_check

    settings = get_settings().model_copy(update={"now": timestamp}) if timestamp else get_settings()
    outcome = run_check(root, base=base, head=head, context=context, settings=settings)
    inputs = {str(d.get("model")): d for d in outcome.inputs
              if isinstance(d, dict) and isinstance(d.get("input"), dict)}
    return outcome.decisions, inputs


def build_evidence(root: Path, report: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """The evidence record of one PR check, from its ``pr-check.json`` document and Git.

    The decisions are evaluated again here (same base rules, same head specs, same
    context, same clock) so the record holds the exact input each decision was made on;
    a decision whose rule ids differ from the reported one is labelled ``mismatch``.
    """
    env = dict(os.environ if env is None else env)
    context = report.get("context") if isinstance(report.get("context"), dict) else {}
    assert isinstance(context, dict)
    head = str(context.get("head_sha") or "")
    base = str(context.get("base_sha") or "")
    plan = report.get("plan") if isinstance(report.get("plan"), dict) else {}
    assert isinstance(plan, dict)
    plan_head = plan.get("head") if isinstance(plan.get("head"), dict) else {}
    plan_base = plan.get("base") if isinstance(plan.get("base"), dict) else {}
    head = head or str((plan_head or {}).get("sha") or "")
    base = base or str((plan_base or {}).get("sha") or "")
    if not head or not base or head == "WORKTREE":
        raise InputError("the PR check report names no base and head commit: run `govops pr-check` on commits")
    policy = report.get("policy") if isinstance(report.get("policy"), dict) else {}
    assert isinstance(policy, dict)
    reported = [d for d in policy.get("decisions") or [] if isinstance(d, dict)]
    stamp = next((str(d["timestamp"]) for d in reported if d.get("timestamp")), None)
    policy_context = {k: v for k, v in context.items()
                      if k not in ("stale_approvals", "base_sha", "head_sha", "repository", "event")}
    decisions, inputs = _rederive(root, base, head, policy_context, stamp)
    by_model = {str(d.get("model")): d for d in reported}
    run_url = report.get("run_url") or _run_url(env)
    labels = {"pr": context.get("pr_number"), "head": head, "base": base, "repository": context.get("repository")}
    records = []
    for d in decisions:
        model = str(d.get("model"))
        doc = inputs.get(model) or {}
        judged = doc.get("input") if isinstance(doc.get("input"), dict) else {}
        rec = _opa_record(d, doc.get("input"), {**labels, "file": doc.get("file") or (judged or {}).get("file")})
        before = by_model.get(model)
        if before is not None:
            rec["decision_id"] = before.get("decision_id") or rec["decision_id"]
            if _rule_ids(before.get("result")) != _rule_ids(d.get("result")):
                rec["labels"]["mismatch"] = "the decision reported by the PR check differs from this re-evaluation"
        records.append(rec)
    validation = report.get("validation") if isinstance(report.get("validation"), dict) else {}
    assert isinstance(validation, dict)
    results = [{k: r[k] for k in _RESULT_KEYS if k in r} for r in validation.get("results") or []
               if isinstance(r, dict)]
    runs = argo_runs(validation.get("argo"))
    argo = sorted({str(r["url"]) for r in runs if r.get("url")}) if runs else sorted(
        {m.group(0) for m in _ARGO_URL.finditer(json.dumps(validation))} |
        ({str(run_url)} if run_url and "/workflows/" in str(run_url) else set()))
    with open_repo(root) as repo:
        specs = spec_blobs(repo, base, head)
    approvals: list[Any] = context["approvals"] if isinstance(context.get("approvals"), list) else []
    return {
        "kind": KIND,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "govops": __version__,
        "commit": head,
        "head": head,
        "base": base,
        "pr": context.get("pr_number"),
        "repository": context.get("repository"),
        "ok": bool(report.get("ok")),
        "specs": specs,
        "evidence": {
            "policy_decisions": records,
            "validation": results,
            "validation_ran": bool(validation.get("ran")),
            "context": {"author": context.get("author"), "approvals": approvals,
                        "reviewers": [a.get("approver") for a in approvals if isinstance(a, dict)],
                        "labels": context.get("labels"), "pr_number": context.get("pr_number")},
            "links": {"ci_run": run_url if run_url and "/workflows/" not in str(run_url) else _run_url(env),
                      "argo": argo, "argo_runs": runs},
            "statuses": report.get("statuses") or [],
        },
    }


def argo_runs(value: Any) -> list[dict[str, Any]]:
    """The identity of each Argo run of the check (``pr-check.json``'s ``validation.argo``), strings only.

    ``{"name", "namespace", "uid", "url", "phase", "submission", "templates"}``: what an auditor
    needs to find the run again in the cluster (name, namespace, UID) and in the UI (URL), and
    which template versions ran it.
    """
    keep = ("name", "namespace", "uid", "url", "phase", "submission")
    out = []
    for run in value if isinstance(value, list) else []:
        if not isinstance(run, dict) or not isinstance(run.get("name"), str):
            continue
        item: dict[str, Any] = {k: str(run[k]) for k in keep if isinstance(run.get(k), str)}
        templates = run.get("templates")
        if isinstance(templates, dict):
            item["templates"] = {str(k): str(v) for k, v in templates.items()}
        out.append(item)
    return out


def _rule_ids(result: Any) -> tuple[list[str], list[str]]:
    def ids(key: str) -> list[str]:
        items = result.get(key) if isinstance(result, dict) else None
        return sorted(str(i.get("rule")) for i in items or [] if isinstance(i, dict))

    return ids("deny"), ids("warn")


def _run_url(env: dict[str, str]) -> str | None:
    server, repo, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if server and repo and run:
        return f"{server}/{repo}/actions/runs/{run}"
    return get_settings(env).run_url or None


def record_pr_evidence(root: Path, report_dir: Path, *, allowed_signers: list[str] | None = None) -> dict[str, Any]:
    """Write the evidence of ``report_dir/pr-check.json`` as a note on its head commit; the stored record."""
    path = report_dir / "pr-check.json" if report_dir.is_dir() else report_dir
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist: pass the directory `govops pr-check --out` wrote",
                         file=str(path)) from None
    except ValueError as exc:
        raise InputError(f"{path} is not JSON: {exc}", file=str(path)) from None
    except RecursionError:
        raise InputError(f"{path} is not JSON: nested too deeply", file=str(path)) from None
    if not isinstance(report, dict):
        raise InputError(f"{path} is not a govops pr-check report", file=str(path))
    record = build_evidence(root, report)
    return append_record(root, record["head"], record, ref=EVIDENCE_REF, allowed_signers=allowed_signers)


# --- the rollout side: from a merged commit to its PR head's evidence ---------------------------------------


@dataclass
class Found:
    """The evidence record of a merged change, where it came from and how the merge was mapped to it."""

    head: str
    record: dict[str, Any]
    digest: str
    how: str

    def for_rollout(self) -> dict[str, Any]:
        """The ``evidence`` of a rollout record: the PR's evidence plus where it is stored and its digest."""
        body = self.record.get("evidence") if isinstance(self.record.get("evidence"), dict) else {}
        assert isinstance(body, dict)
        return {
            **body,
            "pr": self.record.get("pr"),
            "ok": self.record.get("ok"),
            "source": {"ref": FULL_EVIDENCE_REF, "head": self.head, "record": self.digest,
                       "seq": self.record.get("seq"), "mapped_by": self.how},
        }


def evidence_records(repo: Any) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """``head -> [(line digest, record)]`` of every PR evidence record (one ``notes list``, one ``cat-file``)."""
    status, out, _ = run_git(repo, "notes", "--ref", EVIDENCE_REF, "list", check=False)
    if status != 0:
        return {}
    pairs = [line.split() for line in out_lines(out) if line.strip()]
    blobs = cat_blobs(repo, [p[0] for p in pairs])
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for blob, commit in pairs:
        text = (blobs.get(blob) or b"").decode("utf-8", "replace")
        for line in split_note(text):  # line by line: parse_note leaves out invalid and malformed lines
            for rec in parse_note(commit, line).records:
                if rec.get("kind") == KIND:
                    found.setdefault(commit, []).append((line_digest(line), rec))
    return found


def _matches(repo: Any, commit: str, record: dict[str, Any], changed: list[str]) -> bool:
    specs = record.get("specs")
    if not isinstance(specs, dict) or not specs:
        return False
    if any(p not in specs for p in changed):
        return False
    return blobs_at(repo, commit, list(specs)) == specs


def _api_heads(commit: str, repository: str | None) -> list[str]:
    from engine.change.github import GitHubClient, GitHubError

    if not repository:
        return []
    client = GitHubClient()
    if not client.has_token:
        return []
    try:
        resp = client.request("GET", f"/repos/{repository}/commits/{commit}/pulls")
        pulls = resp.json()
    except (GitHubError, ValueError):
        return []
    finally:
        client.close()
    return [str(p["head"]["sha"]) for p in pulls if isinstance(p, dict) and isinstance(p.get("head"), dict)
            and p.get("merged_at") and isinstance(p["head"].get("sha"), str)]


def find_evidence(root: Path, commit: str, *, repository: str | None = None) -> Found | None:
    """The PR evidence for the merged ``commit``, or ``None``.

    Candidates, in order: the merge commit's second parent; the PR heads GitHub reports
    for the commit (``GET /repos/{repo}/commits/{sha}/pulls``, when a token is set); any
    evidence record (newest first) — squash and rebase merges keep no link to the head.
    A candidate counts only when every spec file the record judged has, at ``commit``,
    exactly the blob the record names, and the record covers every spec file ``commit``
    changed against its first parent; and, where ``govops.yaml`` at ``commit`` lists the
    ledger's allowed signers, only when a good signature of the CI identity covers it.
    """
    with open_repo(root) as repo:
        records, _ = signed_evidence(repo, evidence_records(repo), _config_at(repo, commit))
        if not records:
            return None
        _, out, _ = run_git(repo, "rev-list", "--parents", "-n", "1", commit)
        parents = out.decode().split()[1:]
        dirs = _spec_dirs(repo, commit)
        changed: list[str] = []
        if parents:
            _, diff, _ = run_git(repo, "diff", "--name-only", "-z", "--no-renames", parents[0], commit, "--", *dirs)
            changed = [p.decode("utf-8", "replace") for p in diff.split(b"\0") if p]
        if not changed:
            return None  # no spec changed: nothing was judged, nothing to find
        ordered: list[tuple[str, str]] = []
        if len(parents) > 1:
            ordered.append((parents[1], "merge commit's second parent"))
        slug = repository or os.environ.get("GITHUB_REPOSITORY")
        ordered += [(h, "pull request API") for h in _api_heads(commit, slug)]
        ordered.append((commit, "the commit itself"))
        rest = sorted(((h, r) for h, rs in records.items() for r in rs), key=lambda hr: -int(hr[1][1].get("seq") or 0))
        for head, how in ordered:
            for digest, rec in reversed(records.get(head, [])):
                if _matches(repo, commit, rec, changed):
                    return Found(head, rec, digest, how)
        for head, (digest, rec) in rest:
            if _matches(repo, commit, rec, changed):
                status, _, _ = run_git(repo, "merge-base", "--is-ancestor", str(rec.get("base")), commit, check=False)
                if status == 0:
                    return Found(head, rec, digest, "spec blobs equal to the merged ones (squash or rebase merge)")
    return None


def first_parent_spec_commits(repo: Any, commit: str) -> list[str]:
    """First-parent commits up to ``commit`` that changed a spec file (newest first; one ``git log``)."""
    dirs = _spec_dirs(repo, commit)
    _, out, _ = run_git(repo, "log", "--first-parent", "--format=%H", commit, "--", *dirs)
    return out.decode().split()


def spec_change(root: Path, commit: str) -> bool:
    """Whether ``commit`` changed a spec file against its first parent (a root commit: any spec file)."""
    with open_repo(root) as repo:
        dirs = _spec_dirs(repo, commit)
        _, out, _ = run_git(repo, "rev-list", "--parents", "-n", "1", commit)
        parents = out.decode().split()[1:]
        if parents:
            _, diff, _ = run_git(repo, "diff", "--name-only", "-z", parents[0], commit, "--", *dirs)
        else:
            _, diff, _ = run_git(repo, "ls-tree", "-r", "--name-only", "-z", commit, "--", *dirs)
        return bool(diff.strip(b"\0"))


def spec_changes_since(root: Path, commit: str) -> list[str]:
    """Spec-changing first-parent commits since the newest one that already has a rollout record."""
    from engine.audit.ledger import NOTES_REF

    with open_repo(root) as repo:
        status, out, _ = run_git(repo, "notes", "--ref", NOTES_REF, "list", check=False)
        noted = {line.split()[1] for line in out_lines(out) if line.strip()} if status == 0 else set()
        shas = first_parent_spec_commits(repo, commit)
    covered = []
    for sha in shas:
        if sha in noted and sha != commit:
            break
        covered.append(sha)
    return covered


def spec_trees(root: Path, commit: str) -> dict[str, str]:
    """``spec directory -> tree id`` at ``commit`` (what a rollout record's desired-state digest was computed from)."""
    with open_repo(root) as repo:
        dirs = _spec_dirs(repo, commit)
        names = [f"{commit}:{d}" for d in dirs]
        _, out, _ = run_git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                            stdin=("\n".join(names) + "\n").encode())
    found = {}
    for d, line in zip(dirs, out_lines(out), strict=False):
        parts = line.split()
        if len(parts) == 2 and parts[1] == "tree":
            found[d] = parts[0]
    return found
