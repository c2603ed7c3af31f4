"""Each rollout record judged by the signers that were allowed when it was written, not by today's list.

Audit stage (read side). The tip's signature vouches for the whole ledger only with keys
that were allowed all along: a key added to ``ledger.allowedSigners`` later must not be able
to re-sign an older record (the 2026-12-06 red team's s7). So the rollout ref is cut into
*eras*: record ``seq`` N was written while the newest main commit rolled out so far
(records 1..N) had its ``govops.yaml``, and the ``allowedSigners`` there are the keys in force
for it. An era whose list holds every key of the tip's list is covered by the tip's
signature (the common case: no key was ever added, and nothing is read). Any other era needs
a notes commit that announces its last record, carries a good signature under *that era's*
list, and whose tree still holds every record up to that one, byte for byte.

Why the write era and not the era of the record's own commit: a re-run of an old rollout
after a key rotation is written (and signed) under the list of its day, and is no forgery.
Records written before the ledger listed any signer have no key to be judged by; they are
covered as before (the chain and the first signed notes commit). The PR evidence ref is not
cut into eras: every evidence record a rollout used is pinned by the digest the (era-checked)
rollout record cites.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.audit.chain import (
    SIGNATURE_TEXT,
    Finding,
    RefState,
    announced,
    cited_evidence,
    digests_in,
    signature_verdicts,
)
from engine.audit.trail import CONFIG_FILE, TrailConfig, cat_blobs, run_git


@dataclass(frozen=True)
class Era:
    """The records ``first_seq..last_seq`` of a notes ref, written under ``config``'s ``govops.yaml``."""

    config: str | None
    """The first-parent commit whose govops.yaml was in force (``None``: before any govops.yaml)."""
    signers: tuple[str, ...] | None
    """Its ``ledger.allowedSigners`` (empty: none listed; ``None``: the file could not be read)."""
    first_seq: int
    last_seq: int


def signer_lists(repo: Any, prefix: str, commits: list[str]) -> dict[str, tuple[str, ...] | None]:
    """``commit -> allowedSigners`` of govops.yaml at each commit (one ``cat-file``); ``None``: unreadable."""
    names = {sha: f"{sha}:{prefix}{CONFIG_FILE}" for sha in commits}
    blobs = cat_blobs(repo, list(names.values()))
    out: dict[str, tuple[str, ...] | None] = {}
    for sha, name in names.items():
        raw = blobs.get(name)
        if raw is None:
            out[sha] = ()
            continue
        config: Any = TrailConfig.read(raw)
        if config is None:
            from engine.change.gitread import config_from_bytes

            config, _ = config_from_bytes(raw, CONFIG_FILE)
        if config is None:
            out[sha] = None
            continue
        ledger = getattr(config, "ledger", None)
        out[sha] = _normal(ledger.allowed_signers if ledger is not None else [])
    return out


def _normal(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({line.strip() for line in lines if line.strip()}))


def write_eras(state: RefState, position: dict[str, int], configs: list[str]) -> list[tuple[str | None, int, int]]:
    """``(config commit, first seq, last seq)`` of each era of ``state``, oldest first.

    ``position``: ``commit -> index`` on the branch's first-parent line (0: the tip);
    ``configs``: the first-parent commits that changed govops.yaml, newest first. Records whose
    commit is not on that line (reported elsewhere) do not move the era.
    """
    places = [position[sha] for sha in configs]  # ascending: newest first
    rows = sorted(((rec["seq"], position.get(line.commit)) for line, rec in state.records()
                   if isinstance(rec.get("seq"), int) and not isinstance(rec.get("seq"), bool) and rec["seq"] >= 1),
                  key=lambda row: row[0])  # (a repeated seq, one of them off the line: never compare None)
    eras: list[tuple[str | None, int, int]] = []
    newest: int | None = None
    for seq, place in rows:
        if place is not None and (newest is None or place < newest):
            newest = place
        if newest is None:
            continue
        at = bisect.bisect_left(places, newest)
        config = configs[at] if at < len(configs) else None
        if eras and eras[-1][0] == config:
            eras[-1] = (config, eras[-1][1], seq)
        else:
            eras.append((config, seq, seq))
    return eras


def eras_of(repo: Any, prefix: str, state: RefState, position: dict[str, int], configs: list[str]) -> list[Era]:
    """The eras of ``state`` (oldest first) with their signer lists; ``[]`` when all were written under the tip's."""
    if state.tip is None or len(configs) < 2:
        return []  # one govops.yaml ever (records before it have no signers to be judged by): the tip's
    spans = write_eras(state, position, configs)
    if not spans or all(config == configs[0] for config, _, _ in spans):
        return []  # every record was written under the tip's own govops.yaml: nothing to read
    lists = signer_lists(repo, prefix, sorted({c for c, _, _ in spans if c is not None}))
    return [Era(c, lists.get(c, ()) if c is not None else (), low, high) for c, low, high in spans]


def check_eras(repo: Any, state: RefState, eras: list[Era], tip_signers: list[str]) -> list[Finding]:
    """Records written under a list that lacks some key of the tip's: covered by a signature allowed then."""
    return [f for era_findings, _ in _era_results(repo, state, eras, tip_signers) for f in era_findings]


def era_marks(repo: Any, prefix: str, state: RefState, tip_signers: list[str], at: str) -> dict[str, str]:
    """``record digest -> why`` for every record no signature allowed in its era covers (the audit's marks).

    ``at``: the branch commit whose first-parent line orders the eras (one ``rev-list`` for the
    line, one for the commits that changed govops.yaml).
    """
    if state.tip is None or not tip_signers:
        return {}
    _, line, _ = run_git(repo, "rev-list", "--first-parent", at, "--", check=False)
    _, changed, _ = run_git(repo, "rev-list", "--first-parent", at, "--", f"{prefix}{CONFIG_FILE}", check=False)
    position = {sha: i for i, sha in enumerate(line.decode().split())}
    configs = [sha for sha in changed.decode().split() if sha in position]
    eras = eras_of(repo, prefix, state, position, configs)
    marks: dict[str, str] = {}
    for findings, uncovered in _era_results(repo, state, eras, tip_signers):
        why = findings[0].message if findings else "no signature allowed in its era covers it"
        for digest in uncovered:
            marks.setdefault(digest, why)
    return marks


def _era_results(repo: Any, state: RefState, eras: list[Era], tip_signers: list[str]
                 ) -> list[tuple[list[Finding], list[str]]]:
    tip = set(_normal(tip_signers))
    pending = [era for era in eras if era.signers is None or (era.signers and not tip <= set(era.signers))]
    if not pending or state.tip is None:
        return []
    announced = _announcers(repo, state.tip)
    return [_check_era(repo, state, era, announced) for era in pending]


def _check_era(repo: Any, state: RefState, era: Era, announced: dict[str, list[str]]
               ) -> tuple[list[Finding], list[str]]:
    """The findings of one era, and the digests of the records they leave uncovered."""
    where = f"govops.yaml at {era.config[:12]}" if era.config else "govops.yaml"
    span = f"seq {era.first_seq}" if era.first_seq == era.last_seq else f"seqs {era.first_seq} to {era.last_seq}"
    in_era = [line.digest for line, rec in state.records()
              if isinstance(rec.get("seq"), int) and era.first_seq <= rec["seq"] <= era.last_seq]
    if era.signers is None:
        return [Finding("signer", era.config or "-", f"{state.ref} records {span} were written under {where}, which "
                        "cannot be read: the keys allowed to sign them are unknown")], in_era
    last = [line for line, rec in state.records() if rec.get("seq") == era.last_seq]
    if not last:
        return [], []  # a gap: the chain check names it
    line = last[0]
    candidates = announced.get(line.digest, [])
    verdicts = signature_verdicts(repo, candidates, list(era.signers)) if candidates else {}
    good = [sha for sha in candidates if verdicts.get(sha) == "G"]
    if not good:
        why = (", ".join(f"{sha[:12]} {SIGNATURE_TEXT.get(verdicts.get(sha, 'N'), 'has no good signature')}"
                         for sha in candidates[:3]) if candidates else "no notes commit announces it")
        return [Finding("signer", line.commit, f"{state.ref} record seq {era.last_seq} on {line.commit[:12]} (records "
                        f"{span} were written while {where} listed {len(era.signers)} allowed signer(s)) is covered by "
                        f"no signature of a key allowed then: {why} under that list. A key added later re-signed "
                        "the ledger", line.digest)], in_era
    held = digests_in(repo, good[0])
    changed = [(ln, rec) for ln, rec in state.records()
               if isinstance(rec.get("seq"), int) and rec["seq"] <= era.last_seq and ln.digest not in held]
    return [Finding("signer", ln.commit, f"{state.ref} record seq {rec['seq']} on {ln.commit[:12]} is not the record "
                    f"that notes commit {good[0][:12]} (signed under {where}, the keys allowed when it was written) "
                    "holds: it was rewritten after, under a key added later", ln.digest)
            for ln, rec in changed[:20]], [ln.digest for ln, _ in changed]


def _announcers(repo: Any, tip: str) -> dict[str, list[str]]:
    """``record digest -> the notes commits (first parent from the tip) whose message announces it``."""
    _, trailers = announced(repo, tip, first_parent=True)  # (in log order: the newest first)
    found: dict[str, list[str]] = {}
    for sha, said in trailers.items():
        if said.get("record"):
            found.setdefault(said["record"], []).append(sha)
    return found


def era_signers(rollouts: RefState, eras: list[Era], *, evidence: bool = False
                ) -> Callable[[str], tuple[str, ...] | None]:
    """``record digest -> the signer list of the era that record was written in`` (``None``: no era, unreadable).

    ``evidence``: the digests are PR evidence records, each placed in the era of the rollout
    record that cites it (the evidence was written before that rollout, under a list that
    held the keys of the rollout's era when keys are rotated by overlap; README, "The ledger").
    """
    seqs: dict[str, Any] = {}
    for line, rec in rollouts.records():
        if not evidence:
            seqs[line.digest] = rec.get("seq")
            continue
        cited = cited_evidence(rec)
        if cited:
            seqs.setdefault(cited, rec.get("seq"))

    def signers_for(digest: str) -> tuple[str, ...] | None:
        seq = seqs.get(digest)
        return next((era.signers for era in eras if isinstance(seq, int) and era.first_seq <= seq <= era.last_seq),
                    None)

    return signers_for
