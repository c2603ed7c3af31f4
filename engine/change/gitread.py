"""Reading the two sides of a change from Git: the plan stage's input.

``plan_between(root, base, head, config)`` compares the merge base of ``base`` and
``head`` (what a pull request shows: ``base...head``) with ``head`` (a commit, or the
literal ``WORKTREE`` for uncommitted work) and returns a ``Plan``: one plan entry per
model touched (from ``engine.change.plan.diff_specs``), the specs on both sides, and what
changed under ``policies/`` and in ``govops.yaml``.

Git is read through ``git`` itself (GitPython's ``repo.git``): one ``git diff --raw -z``
for the changed files and their blob ids, one ``git cat-file --batch`` for all the blobs
needed. It never walks commits object by object, never writes to the repository, and
never passes a user-supplied string where git could read it as an option: refs are
checked with ``rev-parse --verify --end-of-options`` and resolved to SHAs first, paths
always follow ``--`` and are literal pathspecs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import git
from pydantic import ValidationError

from engine.change.plan import diff_config, diff_specs
from engine.change.plumbing import GIT_SAFE_ENV, REPOSITORY_LOCATORS, GitReadError, cat_blobs, commit_of, run_git
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic
from engine.spec.loader import YamlError, parse_yaml
from engine.spec.statedir import changed_state
from engine.spec.workspace import CONFIG_FILE, SPEC_SUFFIXES, LoadedSpec, load_spec_text

WORKTREE = "WORKTREE"
POLICY_DIR = "policies"
GATE_PATHS = (".github", "CODEOWNERS", "docs/CODEOWNERS")
"""Files that decide how a change is checked and who must review it (CI workflows, code owners):
read into ``changed_files`` so the policy can ask for the risk group's review of an edit to them."""
NULL_SHA = "0" * 40
PARALLEL_BLOBS = 400
_REGULAR_MODES = {"100644", "100755"}


@dataclass(frozen=True)
class FileChange:
    """One changed path: ``status`` is A, M, D, R (renamed), T (type) or U (untracked, WORKTREE)."""

    status: str
    path: str
    old_path: str | None = None
    old_blob: str | None = None
    new_blob: str | None = None
    old_mode: str = ""
    new_mode: str = ""

    def to_json(self) -> dict[str, Any]:
        """``{"status", "path", "old_path"}``."""
        return {"status": self.status, "path": self.path, "old_path": self.old_path}


class SpecIndex(Mapping[str, LoadedSpec]):
    """The models at one side of the change, keyed by id.

    The specs of changed files are loaded at once; the rest (unchanged files, the bulk of
    a large repository) are loaded only when someone asks for a model that is not among
    them, or iterates: planning a change never pays for the whole repository.
    """

    def __init__(self, eager: dict[str, LoadedSpec], load_all: Callable[[], list[LoadedSpec]]) -> None:
        self._eager = dict(eager)
        self._load_all = load_all
        self._all: dict[str, LoadedSpec] | None = None

    def _full(self) -> dict[str, LoadedSpec]:
        if self._all is None:
            full = dict(self._eager)
            files = {s.file for s in full.values()}
            for loaded in self._load_all():
                if loaded.file not in files and loaded.id not in full:
                    full[loaded.id] = loaded
            self._all = dict(sorted(full.items()))
        return self._all

    @property
    def loaded(self) -> dict[str, LoadedSpec]:
        """The models loaded so far (without triggering a full load)."""
        return dict(self._all if self._all is not None else self._eager)

    def __getitem__(self, key: str) -> LoadedSpec:
        if key in self._eager:
            return self._eager[key]
        return self._full()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._eager or key in self._full()

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())


@dataclass
class Plan:
    """What a change does: plan entries per model, both sides' specs, config and policy changes."""

    entries: list[dict[str, Any]]
    base_specs: SpecIndex
    head_specs: SpecIndex
    changed_files: list[str]
    config_changed: bool
    policies_changed: bool
    base_sha: str
    head_sha: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    base_ref: str = ""
    head_ref: str = ""
    base_tip_sha: str = ""
    policy_files: list[str] = field(default_factory=list)
    config_changes: list[dict[str, Any]] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    base_config: Governance | None = None
    head_config: Governance | None = None

    def changed(self) -> list[dict[str, Any]]:
        """Entries with a governed change (not ``unchanged``)."""
        return [e for e in self.entries if e["change"] != "unchanged"]

    def summary(self) -> dict[str, int]:
        """How many models are added, modified, moved, removed."""
        out = {"added": 0, "modified": 0, "moved": 0, "removed": 0, "unchanged": 0}
        for e in self.entries:
            out[e["change"]] = out.get(e["change"], 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form of ``govops plan --format json`` (README, "Interfaces")."""
        return {
            "base": {"ref": self.base_ref, "sha": self.base_tip_sha, "merge_base": self.base_sha},
            "head": {"ref": self.head_ref, "sha": self.head_sha},
            "models": self.entries,
            "summary": self.summary(),
            "config_changed": self.config_changed,
            "config_changes": self.config_changes,
            "policies_changed": self.policies_changed,
            "policy_files": self.policy_files,
            "changed_files": self.changed_files,
            "files": [f.to_json() for f in self.files],
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }


# --- git plumbing -----------------------------------------------------------------------------------------

os.environ.update(GIT_SAFE_ENV)  # every git child of this process (GitPython's too) inherits it
for _name in REPOSITORY_LOCATORS & set(os.environ):  # a hook's GIT_DIR would point GitPython at another repository
    del os.environ[_name]


def _is_shallow(repo: git.Repo) -> bool:
    _, out, _ = run_git(repo, "rev-parse", "--is-shallow-repository", check=False)
    return out.strip() == b"true"


FETCH_HINT = (
    "this is a shallow clone: fetch more history, e.g. `git fetch --deepen=200 origin` "
    "(or `git fetch --unshallow`), or check out with `fetch-depth: 0` in actions/checkout"
)


def resolve_commit(repo: git.Repo, ref: str, role: str) -> str:
    """The full SHA of ``ref`` as a commit; ``ref`` is never read as an option."""
    what = "ref" if role == "ref" else f"{role} ref"  # "base ref 'x'", but never "ref ref 'x'"
    if not ref or "\n" in ref or "\0" in ref:
        raise GitReadError(f"{what} {ref!r} is not a valid ref")
    sha = commit_of(repo, ref, role)
    if sha is None:
        hint = ""
        if ref.startswith("-"):
            hint = " (a ref never starts with '-'; it was not read as an option)"
        elif _is_shallow(repo):
            hint = f"; {FETCH_HINT}"
        raise GitReadError(
            f"{what} '{ref}' does not exist in this repository (not a branch, tag or commit){hint}"
        )
    return sha


def merge_base(repo: git.Repo, base_sha: str, head_sha: str, base_ref: str, head_ref: str) -> str:
    """The merge base of two commits (``base...head`` semantics), with clear errors."""
    status, out, _ = run_git(repo, "merge-base", base_sha, head_sha, check=False)
    if status == 0 and out.strip():
        return out.decode().split()[0]
    if _is_shallow(repo):
        raise GitReadError(
            f"no common ancestor of '{base_ref}' and '{head_ref}' in the history fetched so far; {FETCH_HINT}"
        )
    raise GitReadError(
        f"'{base_ref}' and '{head_ref}' have unrelated histories (no common ancestor); "
        "a plan compares a branch with the branch it was made from: pick a base on the same history"
    )


def parse_raw_diff(out: bytes) -> list[FileChange]:
    """Parse ``git diff --raw -z --no-abbrev`` output."""
    return parse_raw_parts(out.split(b"\0"))


def parse_raw_parts(parts: list[bytes]) -> list[FileChange]:
    """Raw diff entries (``:mode mode sha sha status``, then one or two paths) from split ``-z`` output.

    Shared by ``git diff --raw`` here and ``git log --raw`` in ``engine.audit.trail`` (where a
    record separator newline may precede an entry).
    """
    changes: list[FileChange] = []
    i = 0
    while i < len(parts):
        meta = parts[i].lstrip(b"\n")
        if not meta.startswith(b":"):
            i += 1
            continue
        fields = meta[1:].decode().split()
        old_mode, new_mode, old_blob, new_blob, status = fields[:5]
        kind = status[0]
        two = kind in ("R", "C")
        old_path = os.fsdecode(parts[i + 1]) if i + 1 < len(parts) else ""
        path = os.fsdecode(parts[i + 2]) if two and i + 2 < len(parts) else old_path
        i += 3 if two else 2
        changes.append(
            FileChange(
                status="R" if two else kind,
                path=path,
                old_path=old_path if two else None,
                old_blob=None if set(old_blob) == {"0"} else old_blob,
                new_blob=None if set(new_blob) == {"0"} else new_blob,
                old_mode=old_mode,
                new_mode=new_mode,
            )
        )
    return changes


# --- loading ----------------------------------------------------------------------------------------------


def _load_chunk(args: tuple[list[tuple[bytes, str]], Path, Governance | None]) -> list[
    tuple[LoadedSpec | None, list[Diagnostic]]
]:
    items, root, config = args
    out: list[tuple[LoadedSpec | None, list[Diagnostic]]] = []
    for raw, file in items:
        loaded, diags = load_spec_text(raw, file, root, config)
        if loaded is not None:  # ship the bytes, not the parsed document (see YamlDocument.compact)
            loaded = LoadedSpec(loaded.file, loaded.doc.compact(raw), loaded.spec)
        out.append((loaded, diags))
    return out


def load_blobs(
    items: list[tuple[bytes, str]], root: Path, config: Governance | None, jobs: int | None = None
) -> list[tuple[LoadedSpec | None, list[Diagnostic]]]:
    """``load_spec_text`` over many blobs, in processes when there are many."""
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_BLOBS or workers < 2:
        return [load_spec_text(raw, file, root, config) for raw, file in items]
    size = max(50, len(items) // (workers * 4))
    chunks = [(items[i : i + size], root, config) for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [r for chunk in pool.map(_load_chunk, chunks) for r in chunk]


def config_from_bytes(raw: bytes | None, file: str) -> tuple[Governance | None, list[Diagnostic]]:
    """``govops.yaml`` from a blob (``None`` if absent or invalid, with diagnostics)."""
    if raw is None:
        return None, []
    try:
        doc = parse_yaml(raw, file)
        return Governance.model_validate(doc.data), []
    except YamlError as exc:
        return None, [Diagnostic(file, exc.line or 1, exc.col or 1, "config/yaml", exc.message)]
    except ValidationError as exc:
        errors = exc.errors()
        msg = str(errors[0]["msg"]) if errors else str(exc)
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        return None, [Diagnostic(file, 1, 1, "config/schema", f"{where}: {msg}" if where else msg)]


class _Paths:
    """Maps between repository-root paths (what git prints) and govops-root paths (what users see)."""

    def __init__(self, toplevel: Path, root: Path, spec_paths: list[str]) -> None:
        rel = root.resolve().relative_to(toplevel.resolve()).as_posix()
        self.prefix = "" if rel == "." else rel + "/"
        self.spec_dirs = [p.strip("/") for p in spec_paths]

    def git(self, path: str) -> str:
        return self.prefix + path

    def local(self, git_path: str) -> str | None:
        if not git_path.startswith(self.prefix):
            return None
        return git_path[len(self.prefix) :]

    def pathspecs(self) -> list[str]:
        return [self.git(p) for p in (*self.spec_dirs, CONFIG_FILE, POLICY_DIR, *GATE_PATHS)]

    def is_spec(self, local: str) -> bool:
        if not local.endswith(SPEC_SUFFIXES):
            return False
        for d in self.spec_dirs:
            if local == d or local.startswith(d + "/"):
                inner = PurePosixPath(local[len(d) :].lstrip("/")).parts[:-1]
                return not any(part.startswith(".") for part in inner)
        return False

    def is_policy(self, local: str) -> bool:
        return local.startswith(POLICY_DIR + "/")


def open_repo(root: Path) -> git.Repo:
    """The Git repository holding ``root`` (close it: use as a context manager)."""
    try:
        return git.Repo(root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise GitReadError(
            f"{root} is not inside a Git repository; govops reads specs, history and notes from Git (git init)"
        ) from None


def _side_loader(
    root: Path, tree: str, config: Governance | None, spec_paths: list[str], cache: dict[tuple[str, str], Any]
) -> Callable[[], list[LoadedSpec]]:
    """Load every spec at one side (a commit's tree, or the work tree) on demand."""

    def load() -> list[LoadedSpec]:
        if tree == WORKTREE:
            from engine.spec.workspace import discover, load_spec_file

            files = discover(root, None, config)
            loaded = [load_spec_file(f, root, config)[0] for f in files]
            return [s for s in loaded if s is not None]
        with open_repo(root) as repo:
            paths = _Paths(Path(repo.working_tree_dir or root), root, spec_paths)
            _, out, _ = run_git(repo, "ls-tree", "-r", "-z", "--full-tree", tree, "--", *paths.pathspecs()[:-2])
            wanted: list[tuple[str, str]] = []
            for rec in out.split(b"\0"):
                if not rec:
                    continue
                meta, _, name = rec.partition(b"\t")
                mode, kind, sha = meta.decode().split()
                local = paths.local(os.fsdecode(name))
                if kind == "blob" and mode in _REGULAR_MODES and local and paths.is_spec(local):
                    wanted.append((sha, local))
            todo = [(sha, f) for sha, f in wanted if (sha, f) not in cache]
            blobs = cat_blobs(repo, [sha for sha, _ in todo])
        results = load_blobs([(blobs[sha] or b"", f) for sha, f in todo], root, config)
        for (sha, f), (spec, _) in zip(todo, results, strict=True):
            cache[(sha, f)] = spec
        return [cache[k] for k in sorted(wanted, key=lambda w: w[1]) if cache[k] is not None]

    return load


# --- the plan ---------------------------------------------------------------------------------------------


def plan_between(
    root: Path, base: str, head: str, config: Governance | None = None, *, jobs: int | None = None
) -> Plan:
    """The change from the merge base of ``base`` and ``head`` to ``head`` (or ``WORKTREE``).

    ``config`` (when given) is used on both sides; otherwise each side is read with its
    own ``govops.yaml``. Raises ``GitReadError`` (exit 2) for a missing ref, unrelated
    histories or a shallow clone that lacks the base.
    """
    root = Path(root).resolve()
    worktree = head == WORKTREE
    diagnostics: list[Diagnostic] = []
    with open_repo(root) as repo:
        toplevel = Path(repo.working_tree_dir or root)
        base_tip = resolve_commit(repo, base, "base")
        head_sha = WORKTREE if worktree else resolve_commit(repo, head, "head")
        head_commit = resolve_commit(repo, "HEAD", "HEAD") if worktree else head_sha
        mb = merge_base(repo, base_tip, head_commit, base, "HEAD" if worktree else head)
        cfgs = _side_configs(repo, root, toplevel, mb, head_sha, config, diagnostics)
        paths = _Paths(toplevel, root, cfgs.spec_paths)
        files = _changed_files(repo, paths, mb, head_sha)
        # which blobs to read at each side
        base_items, head_items = _blobs_to_read(files, paths, root, mb, worktree, diagnostics)
        blobs = cat_blobs(repo, [o for o, _ in base_items] + [o for o, _, _ in head_items if o])

    base_changed, head_changed, unreadable = _load_changed(
        blobs, base_items, head_items, root, cfgs, mb, jobs, diagnostics
    )
    changed_paths = {c.path for c in files} | {c.old_path for c in files if c.old_path}
    _match_one_sided(root, mb, paths, cfgs, changed_paths, base_changed, head_changed, diagnostics)
    entries = _entries(base_changed, head_changed, files, unreadable, cfgs)

    cache: dict[tuple[str, str], Any] = {}
    config_changed = any(c.path == CONFIG_FILE for c in files)
    policy_files = sorted({p for c in files for p in (c.path, c.old_path) if p and paths.is_policy(p)})
    plan = Plan(
        entries=entries,
        base_specs=SpecIndex(base_changed, _side_loader(root, mb, cfgs.use_base, cfgs.spec_paths, cache)),
        head_specs=SpecIndex(
            head_changed,
            _side_loader(root, WORKTREE if worktree else head_sha, cfgs.use_head, cfgs.spec_paths, cache),
        ),
        changed_files=sorted(changed_paths),
        config_changed=config_changed,
        policies_changed=bool(policy_files),
        base_sha=mb,
        head_sha=head_sha,
        diagnostics=sorted(diagnostics),
        base_ref=base,
        head_ref=head,
        base_tip_sha=base_tip,
        policy_files=policy_files,
        config_changes=diff_config(cfgs.base_cfg, cfgs.head_cfg) if config_changed else [],
        files=files,
        base_config=cfgs.base_cfg,
        head_config=cfgs.use_head,
    )
    return plan


@dataclass
class _SideConfigs:
    """Each side's own govops.yaml, the one each side is read with, and the spec folders to look in."""

    base_cfg: Governance | None
    head_cfg: Governance | None
    use_base: Governance | None
    use_head: Governance | None
    spec_paths: list[str]


def _side_configs(
    repo: git.Repo, root: Path, toplevel: Path, mb: str, head_sha: str, config: Governance | None,
    diagnostics: list[Diagnostic],
) -> _SideConfigs:
    """The govops.yaml at the merge base and at the head (``config``, when given, reads both sides)."""
    worktree = head_sha == WORKTREE
    probe = _Paths(toplevel, root, [])
    cfg_git = probe.git(CONFIG_FILE)
    cfg_blobs = cat_blobs(repo, [f"{mb}:{cfg_git}"] + ([] if worktree else [f"{head_sha}:{cfg_git}"]))
    base_cfg_raw = cfg_blobs.get(f"{mb}:{cfg_git}")
    if worktree:
        cfg_file = root / CONFIG_FILE
        head_cfg_raw = cfg_file.read_bytes() if cfg_file.is_file() else None
    else:
        head_cfg_raw = cfg_blobs.get(f"{head_sha}:{cfg_git}")
    diagnostics += changed_state(root, mb, None if worktree else head_sha)  # no state taken from a change
    base_cfg, d1 = config_from_bytes(base_cfg_raw, CONFIG_FILE)
    head_cfg, d2 = config_from_bytes(head_cfg_raw, CONFIG_FILE)
    diagnostics += [_at_base(d, mb) for d in d1]
    diagnostics += d2
    use_head = config if config is not None else head_cfg
    use_base = config if config is not None else (base_cfg if base_cfg is not None else head_cfg)
    spec_paths = list(
        dict.fromkeys([*(use_head.spec_paths if use_head else ["specs"]),
                       *(use_base.spec_paths if use_base else [])])
    )
    return _SideConfigs(base_cfg, head_cfg, use_base, use_head, spec_paths)


def _changed_files(repo: git.Repo, paths: _Paths, mb: str, head_sha: str) -> list[FileChange]:
    """The files the change touches under the governed paths (untracked ones too for the work tree), by path."""
    worktree = head_sha == WORKTREE
    diff_args = ["diff", "--raw", "-z", "--no-abbrev", "--find-renames", "--no-ext-diff", "--no-textconv",
                 "--no-color", "--no-relative", mb]
    if not worktree:
        diff_args.append(head_sha)
    _, out, _ = run_git(repo, *diff_args, "--", *paths.pathspecs())
    changes = parse_raw_diff(out)
    if worktree:
        _, untracked, _ = run_git(repo, "ls-files", "-z", "--others", "--exclude-standard", "--",
                                  *paths.pathspecs())
        changes += [FileChange("A", os.fsdecode(p)) for p in untracked.split(b"\0") if p]

    files: list[FileChange] = []
    for c in changes:
        local = paths.local(c.path)
        old_local = paths.local(c.old_path) if c.old_path else None
        if local is None:
            continue
        files.append(replace(c, path=local, old_path=old_local))
    files.sort(key=lambda c: c.path)
    return files


def _blobs_to_read(
    files: list[FileChange], paths: _Paths, root: Path, mb: str, worktree: bool, diagnostics: list[Diagnostic],
) -> tuple[list[tuple[str, str]], list[tuple[str, str | None, str]]]:
    """The changed spec files to read: (object, local path) at the base; (object, disk path, local path) at the head.

    A symlink or submodule where a spec belongs is a diagnostic, never read.
    """
    base_items: list[tuple[str, str]] = []  # (object name, local path)
    head_items: list[tuple[str, str | None, str]] = []  # (object name, worktree path, local path)
    for c in files:
        old_path = c.old_path or c.path
        if c.status in ("D", "M", "R", "T") and paths.is_spec(old_path):
            if c.old_mode in _REGULAR_MODES and c.old_blob:
                base_items.append((c.old_blob, old_path))
            else:
                diagnostics.append(Diagnostic(old_path, 1, 1, "git/not-a-file",
                                              f"at base {mb[:7]}: not a regular file; not read as a spec",
                                              severity="warning"))
        if c.status in ("A", "M", "R", "T", "U") and paths.is_spec(c.path):
            if c.new_mode and c.new_mode not in _REGULAR_MODES:
                diagnostics.append(Diagnostic(c.path, 1, 1, "git/not-a-file",
                                              "a symlink or submodule where a spec file belongs; "
                                              "commit the spec itself"))
            elif worktree:
                head_items.append(("", str(root / c.path), c.path))
            else:
                head_items.append((c.new_blob or "", None, c.path))
    return base_items, head_items


def _load_changed(
    blobs: Mapping[str, bytes | None], base_items: list[tuple[str, str]],
    head_items: list[tuple[str, str | None, str]], root: Path, cfgs: _SideConfigs, mb: str, jobs: int | None,
    diagnostics: list[Diagnostic],
) -> tuple[dict[str, LoadedSpec], dict[str, LoadedSpec], set[str]]:
    """The changed specs of each side by model id, and the head files that do not load."""
    base_raw = [(blobs.get(o) or b"", p) for o, p in base_items]
    head_raw: list[tuple[bytes, str]] = []
    for obj, disk, p in head_items:
        if disk is not None:
            head_raw.append((_read_disk(Path(disk)), p))
        else:
            head_raw.append((blobs.get(obj) or b"", p))
    if cfgs.use_head is cfgs.use_base:
        loaded = load_blobs(base_raw + head_raw, root, cfgs.use_head, jobs)
        base_loaded, head_loaded = loaded[: len(base_raw)], loaded[len(base_raw) :]
    else:  # each side is validated against its own govops.yaml
        base_loaded = load_blobs(base_raw, root, cfgs.use_base, jobs)
        head_loaded = load_blobs(head_raw, root, cfgs.use_head, jobs)

    base_changed: dict[str, LoadedSpec] = {}
    for spec, diags in base_loaded:
        diagnostics += [_at_base(d, mb) for d in diags]
        if spec is not None:
            base_changed.setdefault(spec.id, spec)
    head_changed: dict[str, LoadedSpec] = {}
    unreadable: set[str] = set()  # head files that do not load: their model's fate is unknown
    for (_, file), (spec, diags) in zip(head_raw, head_loaded, strict=True):
        diagnostics += diags
        if spec is None:
            unreadable.add(file)
            continue
        other = head_changed.get(spec.id)
        if other is not None:
            diagnostics.append(_duplicate(spec, other.file))
            continue
        head_changed[spec.id] = spec
    return base_changed, head_changed, unreadable


def _match_one_sided(
    root: Path, mb: str, paths: _Paths, cfgs: _SideConfigs, changed_paths: set[str],
    base_changed: dict[str, LoadedSpec], head_changed: dict[str, LoadedSpec], diagnostics: list[Diagnostic],
) -> None:
    """A model only one side's changed files declare may live on in an untouched file: pair it with that one."""
    one_sided = sorted(set(base_changed) ^ set(head_changed))
    if not one_sided:
        return
    existing = _specs_in_unchanged_files(
        root, mb, paths, [(base_changed.get(i) or head_changed[i]).spec.metadata.name for i in one_sided],
        changed_paths, cfgs.use_base if cfgs.use_base is not None else cfgs.use_head,
    )
    for spec in existing:
        if spec.id in head_changed and spec.id not in base_changed:
            diagnostics.append(_duplicate(head_changed[spec.id], spec.file))
            head_changed[spec.id] = spec
            base_changed[spec.id] = spec
        elif spec.id in base_changed and spec.id not in head_changed:
            base_changed[spec.id] = spec
            head_changed[spec.id] = spec


def _entries(
    base_changed: dict[str, LoadedSpec], head_changed: dict[str, LoadedSpec], files: list[FileChange],
    unreadable: set[str], cfgs: _SideConfigs,
) -> list[dict[str, Any]]:
    """One plan entry per model whose spec differs between the sides, by model id."""
    renamed_to = {c.old_path: c.path for c in files if c.old_path}
    entries: list[dict[str, Any]] = []
    for model_id in sorted(set(base_changed) | set(head_changed)):
        b, h = base_changed.get(model_id), head_changed.get(model_id)
        if b is not None and h is not None and b is h:
            continue
        if h is None and b is not None and renamed_to.get(b.file, b.file) in unreadable:
            continue  # not removed: its file is invalid at the head (reported as a diagnostic)
        entries.append(
            diff_specs(
                b.spec if b else None,
                h.spec if h else None,
                base_file=b.file if b else None,
                head_file=h.file if h else None,
                config=cfgs.use_head,
                base_config=cfgs.use_base,
            )
        )
    return entries


def _at_base(d: Diagnostic, mb: str) -> Diagnostic:
    """A problem at the base side: shown, but it does not block the change (a warning)."""
    return replace(d, message=f"at base {mb[:7]}: {d.message}", severity="warning")


def _read_disk(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise GitReadError(f"{path}: cannot read ({exc.strerror})", file=str(path)) from None


def _duplicate(spec: LoadedSpec, other_file: str) -> Diagnostic:
    line, col = spec.doc.position(("metadata", "name"))
    return Diagnostic(
        spec.file, line, col, "spec/duplicate-id",
        f"model '{spec.id}' is already declared in {other_file}; each tenant/name must be unique: "
        "rename one of them",
        model=spec.id,
    )


def _specs_in_unchanged_files(
    root: Path, tree: str, paths: _Paths, names: list[str], changed: set[str], config: Governance | None
) -> list[LoadedSpec]:
    """Specs in files the change did not touch that may declare one of these model names.

    A model added in a new file may already be declared in an untouched file (a duplicate
    that would otherwise pass as a new model); ``git grep`` finds the candidates cheaply.
    """
    with open_repo(root) as repo:
        args = ["grep", "-l", "-z", "-F", "--no-color"]
        for n in sorted(set(names)):
            args += ["-e", n]
        status, out, _ = run_git(repo, *args, tree, "--", *paths.pathspecs()[:-2], check=False)
        if status not in (0, 1):
            return []
        candidates: list[tuple[str, str]] = []
        for rec in out.split(b"\0"):
            if not rec:
                continue
            git_path = os.fsdecode(rec).split(":", 1)[1]
            local = paths.local(git_path)
            if local and local not in changed and paths.is_spec(local):
                candidates.append((f"{tree}:{git_path}", local))
        blobs = cat_blobs(repo, [o for o, _ in candidates])
    loaded = load_blobs([(blobs.get(o) or b"", f) for o, f in candidates], root, config)
    return [s for s, _ in loaded if s is not None]
