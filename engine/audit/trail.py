"""Reading the audit trail: commits from one ``git log`` call, and the ledger notes beside them.

Audit stage (read side). History is read with a single ``git log --format=… -z --raw``
call (notes included with ``--notes=govops``), never by walking commits object by
object; notes that mention a model are found with one ``git grep`` over the notes
ref. Note text is parsed with ``engine.audit.ledger``'s reader, so there is one record
format. This module never writes to the repository and never passes a user-supplied
string where git could read it as an option (revisions are resolved to SHAs first,
paths follow ``--``).

Git is run here directly (``run_git``, ``cat_blobs``, ``open_git``), not through GitPython:
``govops verify`` reads only Git, and importing GitPython and the spec model cost it more
than all its git work. The functions take a GitPython ``Repo`` or a :class:`GitDir` alike.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.audit.ledger import FULL_NOTES_REF, NOTES_REF, LedgerEntry, parse_note
from engine.change.plumbing import GIT_ENV, cat_blobs, commit_of, git_env, out_lines, run_git
from engine.spec.errors import InputError
from engine.spec.repo_paths import spec_dir_problem

if TYPE_CHECKING:
    from datetime import datetime

    import git

    from engine.change.gitread import FileChange



@dataclass(frozen=True)
class GitDir:
    """A repository as ``git rev-parse`` names it: enough to run git in it, without GitPython.

    Has the attributes of a GitPython ``Repo`` that this module, ``engine.audit.chain`` and
    ``engine.audit.verify`` read, so either can be passed; a context manager like ``Repo``.
    """

    git_dir: str
    common_dir: str
    working_tree_dir: str | None

    def __enter__(self) -> GitDir:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def open_git(root: Path) -> Any:
    """The repository holding ``root`` (one ``git rev-parse``); GitPython's ``open_repo`` for anything unusual.

    A bare repository, a missing directory or no repository at all go through
    ``engine.change.gitread.open_repo``, which words the error (exit 2) or returns its ``Repo``.
    """
    root = Path(root)
    if root.is_dir():
        res = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--absolute-git-dir", "--git-common-dir",
                              "--show-toplevel"],
                             cwd=root, capture_output=True, env={**os.environ, **GIT_ENV}, stdin=subprocess.DEVNULL)
        lines = out_lines(res.stdout)
        if res.returncode == 0 and len(lines) == 3:
            return GitDir(lines[0], str((root / lines[1]).resolve()), lines[2])
    from engine.change.gitread import open_repo

    return open_repo(root)


# fields of one commit in the log; %x1e starts a record, %x00 separates fields
_FIELDS = ("sha", "parents", "an", "ae", "ad", "cn", "ce", "cd", "sig", "subject", "body", "notes")
_FORMAT = "%x1e" + "%x00".join(("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%G?", "%s", "%b", "%N")) + "%x00"
_FORMAT_NO_SIG = _FORMAT.replace("%G?", "-")

_PR_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
_PR_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_TRAILER = re.compile(r"^(Approved-by|Reviewed-by|Acked-by):\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_SHUTDOWN = re.compile(r"automatic shutdown|Govops-Action: shutdown|govops/shutdown/", re.IGNORECASE)
_BOT = re.compile(r"govops(-bot|\[bot\]|\sbot)?", re.IGNORECASE)


@dataclass
class LogCommit:
    """One commit as ``git log`` printed it, with its raw changes and its govops note."""

    sha: str
    parents: list[str]
    author: str
    author_email: str
    author_date: str
    committer: str
    committer_email: str
    committer_date: str
    signature: str
    subject: str
    body: str
    note: LedgerEntry | None = None
    changes: list[FileChange] = field(default_factory=list)

    @property
    def pr_number(self) -> int | None:
        """The pull request number from a merge subject (``Merge pull request #12``) or a squash ``(#12)``."""
        return pr_number(self.subject)

    @property
    def reverts(self) -> str | None:
        """The commit this one reverts (``This reverts commit …``), if any."""
        m = _REVERTS.search(self.body)
        return m.group(1) if m else None

    @property
    def trailer_approvers(self) -> list[str]:
        """Approvers named in ``Approved-by:``/``Reviewed-by:`` trailers."""
        return [m.group(2) for m in _TRAILER.finditer(self.body)]

    @property
    def by_bot(self) -> bool:
        """Whether the govops bot made this commit (an automatic action)."""
        from engine.spec.settings import get_settings

        bot = get_settings().bot_name
        if bot and self.author == bot:
            return True
        return bool(_BOT.search(self.author) or _BOT.search(self.author_email.split("@")[0]))

    @property
    def is_shutdown(self) -> bool:
        """An automatic shutdown: the bot's commit, or the merge of its ``govops/shutdown/…`` branch."""
        text = f"{self.subject}\n{self.body}"
        return bool(_SHUTDOWN.search(text)) and (self.by_bot or "Govops-Action: shutdown" in text
                                                 or "govops/shutdown/" in self.subject)

    def person(self) -> dict[str, str]:
        """Author and committer as JSON."""
        return {
            "author": f"{self.author} <{self.author_email}>",
            "committer": f"{self.committer} <{self.committer_email}>",
        }


def pr_number(subject: str) -> int | None:
    """The PR number in a merge or squash commit subject."""
    m = _PR_MERGE.match(subject) or _PR_SQUASH.search(subject)
    return int(m.group(1)) if m else None


def parse_date(text: str, option: str) -> datetime:
    """``YYYY-MM-DD`` or an ISO 8601 time (``Z`` allowed); naive times are UTC. Bad input: exit 2."""
    from datetime import UTC, datetime  # (here: ``verify`` reads no dates, and imports this module)

    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            value = datetime.fromisoformat(raw + "T00:00:00+00:00")
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date: use YYYY-MM-DD or 2026-11-23T10:00:00+00:00") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(text: str | None) -> datetime | None:
    """A git/ledger ISO timestamp as an aware datetime (``None`` when absent or unreadable)."""
    from datetime import UTC, datetime

    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_log(out: bytes) -> list[LogCommit]:
    """Parse the output of ``git log --format=_FORMAT -z --raw``, by position.

    A commit is 0x1e and its twelve NUL-terminated fields, then its raw entries (a header, then
    one or two paths). Fields and paths are taken by their place, never searched for a marker:
    a message, a note or a path may hold 0x1e (but never NUL), and must not cut a commit short.
    """
    from engine.change.gitread import parse_raw_parts

    items = out.split(b"\0")
    commits: list[LogCommit] = []
    k = 0
    while k < len(items):
        first = items[k].lstrip(b"\n")
        if not first.startswith(b"\x1e") or k + len(_FIELDS) > len(items):
            k += 1  # (the NUL between commits)
            continue
        head = [first[1:].decode("utf-8", "replace")] + [
            p.decode("utf-8", "replace") for p in items[k + 1 : k + len(_FIELDS)]]
        k += len(_FIELDS)
        while k < len(items) and items[k] == b"":
            k += 1  # (the NUL between the fields and the raw entries, or between commits)
        raw_start = k
        while k < len(items):
            entry = items[k].lstrip(b"\n")
            if not entry.startswith(b":"):
                break
            k += 3 if entry.split(b" ")[4:5] and entry.split(b" ")[4][:1] in (b"R", b"C") else 2
        f = dict(zip(_FIELDS, head, strict=True))
        note = parse_note(f["sha"], f["notes"]) if f["notes"].strip() else None
        commits.append(
            LogCommit(
                sha=f["sha"],
                parents=f["parents"].split(),
                author=f["an"],
                author_email=f["ae"],
                author_date=f["ad"],
                committer=f["cn"],
                committer_email=f["ce"],
                committer_date=f["cd"],
                signature=f["sig"],
                subject=f["subject"],
                body=f["body"],
                note=note if note and (note.records or note.invalid) else None,
                changes=parse_raw_parts(items[raw_start:k]),
            )
        )
    return commits


def read_log(
    repo: git.Repo,
    rev: str,
    paths: list[str],
    *,
    follow: bool = False,
    first_parent: bool = True,
    signatures: bool = False,
    raw: bool = True,
    extra: list[str] | None = None,
) -> list[LogCommit]:
    """One ``git log`` call: commits of ``rev`` (a resolved SHA) touching ``paths``, newest first.

    ``follow`` follows one file across renames; ``first_parent`` shows merges as one change
    against the branch they were merged into (what a pull request did to main).
    ``signatures`` asks git to check signatures (``%G?``), which is slower. ``extra`` are
    options govops itself builds (``--since=…``), never user text.
    """
    args = ["log", "-z", "--no-color", "--no-ext-diff", "--no-textconv", f"--notes={NOTES_REF}",
            f"--format={_FORMAT if signatures else _FORMAT_NO_SIG}"]
    if raw:
        args += ["--raw", "--no-abbrev", "-M"]
    if first_parent:
        args += ["--first-parent", "--diff-merges=first-parent"]
    if follow:
        args.append("--follow")
    args += [*(extra or []), rev, "--", *paths]
    _, out, _ = run_git(repo, *args)
    return parse_log(out)


def notes_mentioning(repo: git.Repo, needle: str) -> list[LedgerEntry]:
    """Ledger entries whose note text contains ``needle`` (one ``git grep`` on the notes ref + one cat-file)."""
    names = note_blobs_mentioning(repo, needle)
    blobs = cat_blobs(repo, names)
    return parse_note_blobs(names, blobs)


def note_blobs_mentioning(repo: git.Repo, needle: str) -> list[str]:
    """``refs/notes/govops:<fanout path>`` of every note containing ``needle`` (one ``git grep``)."""
    return NoteGrep(repo, needle).result()


class NoteGrep:
    """``git grep`` over the notes ref, started at once and collected later.

    Searching thousands of notes costs about as much as the ``git log`` itself, so the
    audit runs both at the same time (two processes, two cores).
    """

    def __init__(self, repo: git.Repo, needle: str) -> None:
        cmd = ["git", f"--git-dir={repo.git_dir}", "grep", "-l", "-z", "-F", "--no-color", "-e", needle,
               FULL_NOTES_REF]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                      env=git_env())
        # the notes git itself sees (what verify and the integrity marks read): a blob elsewhere in the tree is no note
        listed = ["git", f"--git-dir={repo.git_dir}", "notes", "--ref", FULL_NOTES_REF, "list"]
        self._list = subprocess.Popen(listed, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL, env=git_env())

    def close(self) -> None:
        """Stop the search if it still runs (the caller failed before collecting it)."""
        for proc in (self._proc, self._list):
            if proc.returncode is None:
                proc.kill()
                proc.communicate()

    def result(self) -> list[str]:
        """The note blob names found (none when there is no notes ref yet), only those ``git notes list`` lists.

        A blob at ``abcd/ef01…`` or at a name with a newline in the notes tree is not a note to git (its fan-out
        directories have two hex digits): verify never reads it, so audit must not either (T-w8).
        """
        out, _ = self._proc.communicate()
        listed, _ = self._list.communicate()
        if self._proc.returncode != 0 or self._list.returncode != 0:  # 1: nothing found; 128: no notes ref yet
            return []
        notes = {parts[1] for parts in (line.split() for line in out_lines(listed))
                 if len(parts) == 2}
        names = [os.fsdecode(p) for p in out.split(b"\0") if p]
        return [n for n in names if note_object(n.split(":", 1)[1]) in notes]


def note_object(path: str) -> str | None:
    """The object a notes-tree path is the note of (``ab/cdef…`` -> ``abcdef…``), ``None`` for a non-note path.

    Git's fan-out: directories of exactly two hex digits, then the rest of the object id.
    """
    parts = path.split("/")
    name = "".join(parts)
    if len(name) not in (40, 64) or any(len(p) != 2 for p in parts[:-1]) or not _HEX.fullmatch(name):
        return None
    return name.lower()


_HEX = re.compile(r"[0-9a-fA-F]+")


def parse_note_blobs(names: list[str], blobs: dict[str, bytes | None]) -> list[LedgerEntry]:
    """Ledger entries from note blobs read by name (``refs/notes/govops:ab/cdef…``)."""
    entries = []
    for name in names:
        commit = note_object(name.split(":", 1)[1])
        if commit is None:  # not a note git would read (see ``NoteGrep.result``)
            continue
        text = (blobs.get(name) or b"").decode("utf-8", "replace")
        entries.append(parse_note(commit, text))
    return entries


def all_notes(repo: git.Repo) -> list[LedgerEntry]:
    """Every ledger entry: one ``notes list`` and one ``cat-file --batch``."""
    status, out, _ = run_git(repo, "notes", "--ref", NOTES_REF, "list", check=False)
    if status != 0:
        return []
    pairs = [line.split() for line in out_lines(out) if line.strip()]
    blobs = cat_blobs(repo, [p[0] for p in pairs])
    return [parse_note(p[1], (blobs.get(p[0]) or b"").decode("utf-8", "replace")) for p in pairs]


@dataclass(frozen=True)
class Shallow:
    """A shallow clone: where its history stops."""

    boundary: list[str]
    oldest_date: str | None

    def hint(self, need: str) -> str:
        """A message telling how much history is needed."""
        since = f" (history here starts at {self.oldest_date[:10]})" if self.oldest_date else ""
        from engine.change.gitread import FETCH_HINT

        return f"this is a shallow clone{since}; {need} — {FETCH_HINT}"


def shallow_info(repo: Any) -> Shallow | None:
    """``None`` for a full clone, else the shallow boundary commits and the oldest date available."""
    candidates = [Path(repo.git_dir) / "shallow", Path(repo.common_dir) / "shallow"]
    shallow_file = next((p for p in candidates if p.is_file()), None)
    if shallow_file is None:  # git records a shallow clone's boundary in $GIT_DIR/shallow
        return None
    boundary = shallow_file.read_text().split()
    oldest = None
    if boundary:
        _, dates, _ = run_git(repo, "show", "-s", "--format=%cI", *boundary, "--", check=False)
        values = sorted(d for d in dates.decode().split() if d)
        oldest = values[0] if values else None
    return Shallow(boundary, oldest)


def resolve(repo: Any, ref: str, role: str = "ref") -> str:
    """The commit SHA of ``ref`` (never read as an option); exit 2 when it does not exist or is ambiguous.

    ``engine.change.plumbing.commit_of`` answers (and refuses a name that is both a tag and a
    branch); the error for a missing ref is ``engine.change.gitread.resolve_commit``'s (imported
    only to word it).
    """
    if ref and "\n" not in ref and "\0" not in ref:
        sha = commit_of(repo, ref, role)
        if sha is not None:
            return sha
    from engine.change.gitread import open_repo, resolve_commit

    if isinstance(repo, GitDir):
        with open_repo(Path(repo.working_tree_dir or repo.git_dir)) as full:
            return resolve_commit(full, ref, role)
    return resolve_commit(repo, ref, role)


def main_ref(repo: Any, ref: str | None) -> tuple[str, str]:
    """``(name, sha)`` of ``ref`` if given, else of ``main`` when it exists, else of ``HEAD``."""
    if ref:
        return ref, resolve(repo, ref)
    status, out, _ = run_git(repo, "rev-parse", "--verify", "--quiet", "refs/heads/main^{commit}", check=False)
    if status == 0:
        return "main", out.decode().strip()
    return "HEAD", resolve(repo, "HEAD")


def to_utc_text(value: datetime) -> str:
    """``2026-11-23T10:00:00+00:00``."""
    from datetime import UTC

    return value.astimezone(UTC).isoformat()


def records(entry: LedgerEntry | None) -> list[dict[str, Any]]:
    """The JSON records of a ledger entry (none for ``None``)."""
    return list(entry.records) if entry else []




CONFIG_FILE = "govops.yaml"  # engine.spec.workspace.CONFIG_FILE
_CONFIG_KEYS = frozenset({
    "apiVersion", "kind", "specPaths", "tiers", "tenants", "groups", "riskGroup", "environments", "allowedRuntimes",
    "personalData", "freezes", "secrets", "signedCommits", "limits", "ledger", "staleApprovals",
})
"""The keys of ``engine.spec.config.Governance`` (a test keeps the two lists equal)."""


@dataclass(frozen=True)
class TrailLedger:
    """``ledger:`` of govops.yaml as the trail reads it (``engine.spec.config.Ledger``'s fields)."""

    allowed_signers: list[str]
    require_evidence: bool = True


@dataclass(frozen=True)
class TrailConfig:
    """What reading the trail needs of govops.yaml: spec paths, ``signedCommits``, ``ledger``.

    Read without the pydantic model, which costs ``govops verify`` more than all its git
    work. Only a document whose keys the model knows and whose three settings have exactly
    the model's types is read this way; anything else (``None`` from :meth:`read`) goes
    through the model, which gives its own error. The rest of the document (tiers, tenants)
    is not checked here: that is ``govops lint``'s job, and nothing in the trail reads it.
    """

    spec_paths: list[str]
    signed_commits: bool
    ledger: TrailLedger | None

    @classmethod
    def read(cls, raw: bytes | None) -> TrailConfig | None:
        """The settings of a govops.yaml blob, or ``None`` when the model must judge it (absent, odd, invalid)."""
        if raw is None:
            return None
        from engine.spec.loader import YamlError, parse_yaml

        try:
            data = parse_yaml(raw, CONFIG_FILE).data
        except YamlError:
            return None
        if not isinstance(data, dict) or not set(data) <= _CONFIG_KEYS or "tiers" not in data:
            return None
        if data.get("apiVersion", "govops/v1") != "govops/v1" or data.get("kind", "Governance") != "Governance":
            return None
        paths, signed, ledger = data.get("specPaths", ["specs"]), data.get("signedCommits", False), data.get("ledger")
        if not _strings(paths) or not isinstance(signed, bool) or any(spec_dir_problem(p) for p in paths):
            return None  # the model words the error (an odd spelling of a spec directory is refused)
        if ledger is None:
            return cls(list(paths), signed, None)
        if not isinstance(ledger, dict) or not set(ledger) <= {"allowedSigners", "requireEvidence"}:
            return None
        signers, required = ledger.get("allowedSigners", []), ledger.get("requireEvidence", True)
        if not _strings(signers) or not isinstance(required, bool):
            return None
        return cls(list(paths), signed, TrailLedger(list(signers), required))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass
class View:
    """A repository read at one commit: where govops lives in it and its ``govops.yaml`` there."""

    repo: git.Repo
    root: Path
    prefix: str
    sha: str
    ref: str
    config: Any
    spec_dirs: list[str]
    prefetched: dict[str, bytes | None] = field(default_factory=dict)

    def git_path(self, local: str) -> str:
        """Repository path of a govops-root path."""
        return self.prefix + local

    def local(self, git_path: str) -> str:
        """govops-root path of a repository path."""
        return git_path[len(self.prefix) :] if git_path.startswith(self.prefix) else git_path

    def spec_pathspecs(self) -> list[str]:
        """The spec directories as repository paths."""
        return [self.git_path(d) for d in self.spec_dirs]


def open_view(
    repo: Any,
    root: Path,
    ref: str | None,
    prefetch: tuple[str, ...] = (),
    *,
    light: bool = False,
    resolved: tuple[str, str] | None = None,
) -> View:
    """Resolve ``ref`` (default ``main``, else ``HEAD``) and read ``govops.yaml`` there.

    ``prefetch`` names more files (govops-root paths) to read at that commit in the same
    ``cat-file`` call; they land in ``View.prefetched`` keyed by path. ``light``: the config
    is :class:`TrailConfig` (what ``verify`` reads of it) when it can be read without the
    pydantic model, else the model's ``Governance`` (and its error). ``resolved``: ``main_ref``'s
    answer for ``ref``, when the caller already has it.
    """
    name, sha = resolved or main_ref(repo, ref)
    toplevel = Path(repo.working_tree_dir or root).resolve()
    rel = Path(root).resolve().relative_to(toplevel).as_posix()
    prefix = "" if rel == "." else rel + "/"
    blobs = cat_blobs(repo, [f"{sha}:{prefix}{p}" for p in (CONFIG_FILE, *prefetch) if "\n" not in p])
    raw = blobs.get(f"{sha}:{prefix}{CONFIG_FILE}")
    config: Any = TrailConfig.read(raw) if light else None
    diags: list[Any] = []
    if config is None and raw is not None:
        from engine.change.gitread import config_from_bytes

        config, diags = config_from_bytes(raw, CONFIG_FILE)
    if diags:
        d = diags[0]
        raise InputError(f"at {name} ({sha[:12]}): {d.message}", file=d.file, line=d.line, col=d.col)
    dirs = [p.strip("/") for p in (config.spec_paths if config else ["specs"])]
    fetched = {p: blobs.get(f"{sha}:{prefix}{p}") for p in prefetch}
    return View(repo, Path(root).resolve(), prefix, sha, name, config, dirs, fetched)
