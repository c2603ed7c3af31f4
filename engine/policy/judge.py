"""Which rules judge a change: the base branch's ``govops.yaml``, policy library and waivers, read from Git.

Part of the policy stage, and the heart of its trust model. A pull request is untrusted
input: its own edits to ``policies/``, ``govops.yaml`` or ``waivers.yaml`` must not decide
whether it may merge, or emptying a ``deny`` rule, adding a friend to the risk group or
typing a reviewer's name into a waiver would let it through. So a change is judged by the
rules at the tip of the branch it merges into (the trusted ``--base``; not the merge base,
which a branch author chooses by branching from an old commit with weaker rules), read as
Git objects, never from the checkout. Its edits to the rules are themselves judged by the
base's rules (``policies/meta.rego``: risk-group approval) and take effect after merge.

One exception is made, and only on real identities: a waiver the change adds or edits
counts when the person it names as approver actually approved the change (the forge's
reviews, or ``--approved-by`` where a person runs govops by hand), and is not its author.
Group membership always comes from the base's ``govops.yaml``.

A check with no base (``govops check`` on a working tree, ``--all`` on main) is judged by
the tree itself: that is the policy author's loop, and on main the tree is the base.

Never writes; never reads a file of the change from disk when judging a commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.policy.errors import PolicyError
from engine.policy.library import PolicyLibrary, library_from_sources, load_library
from engine.policy.packs import PACKS_DIR, load_packs, packs_from_files
from engine.policy.waivers import WAIVERS_FILE, load_waivers, parse_waivers
from engine.spec.config import Governance
from engine.spec.diagnostics import Diagnostic
from engine.spec.errors import ConfigError
from engine.spec.workspace import CONFIG_FILE, load_config

_REGULAR = ("100644", "100755")


@dataclass
class Rules:
    """The rules a check applies: config, policy library and effective waivers, and where they came from."""

    config: Governance
    config_file: str
    library: PolicyLibrary
    waivers: list[dict[str, Any]]
    commit: str | None = None
    """The commit whose rules judge (None: the working tree)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    base_waivers: list[dict[str, Any]] = field(default_factory=list)
    """The judging side's own waivers (counted whoever approved the change)."""
    proposed_waivers: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    """Waivers the change adds or edits, with their line in its waivers file."""
    waivers_file: str = ""
    packs: dict[str, Any] = field(default_factory=dict)
    """Regulation packs (``policies/packs/*.yaml``) of the same library: read where the Rego is read."""

    def admit(self, context: dict[str, Any] | None) -> Rules:
        """Count the change's waivers whose named approver approved it (and is not its author)."""
        approvers = _approvers(context)
        self.diagnostics = [d for d in self.diagnostics if d.rule != "govops/waiver-not-approved"]
        effective = list(self.base_waivers)
        for waiver, line in self.proposed_waivers:
            if waiver["approver"] in approvers:
                effective.append(waiver)
                continue
            self.diagnostics.append(Diagnostic(
                self.waivers_file, line, 1, "govops/waiver-not-approved",
                f"waiver of {waiver['rule']} for {waiver['model']} names {waiver['approver']} as approver, who has "
                "not approved this change; it does not count until they approve it (or until it merges)",
                severity="warning",
            ))
        effective.sort(key=lambda w: (-w["expires_ns"], w["rule"], w["model"]))
        self.waivers = effective
        return self

    def provenance(self, policy_revision: str | None) -> dict[str, Any]:
        """What decision records say about the rules that judged them (``judged_by``)."""
        return {
            "source": "base" if self.commit else "worktree",
            "commit": self.commit,
            "policy_revision": policy_revision,
            "waivers": len(self.waivers),
        }


def rules_of_tree(root: Path, policy_dir: str, config_path: Path | None = None, *,
                  with_tests: bool = False) -> Rules:
    """The working tree's rules (a check with no base: the policy author's loop, or main itself)."""
    config, config_file, diags = load_config(root, config_path)
    if config is None:
        raise ConfigError("govops.yaml is invalid; run `govops lint` and fix it first", file=config_file)
    library = load_library(root, policy_dir, with_tests=with_tests)
    waivers = load_waivers(_on_disk(root, policy_dir), library.directory)
    rules = Rules(config, config_file, library, waivers, None, list(diags), base_waivers=list(waivers))
    rules.packs, pack_diags = load_packs(_on_disk(root, policy_dir) / PACKS_DIR, f"{library.directory}/{PACKS_DIR}")
    rules.diagnostics += pack_diags
    return rules


def rules_for_change(
    root: Path,
    base: str,
    head: str,
    policy_dir: str,
    config_path: Path | None = None,
    context: dict[str, Any] | None = None,
) -> Rules:
    """The rules of ``base``'s tip, plus the change's waivers whose named approver approved it.

    ``config_path`` and ``policy_dir`` inside the repository are read at ``base``; outside it
    (an operator's file, an organisation-wide library) from disk, as given. Without a
    ``govops.yaml`` or policy library at the base (the change adopting govops), the change's
    own are used and a warning says so.
    """
    from engine.change.gitread import WORKTREE, open_repo, resolve_commit

    root = Path(root).resolve()
    with open_repo(root) as repo:
        toplevel = Path(repo.working_tree_dir or root).resolve()
        base_sha = resolve_commit(repo, base, "base")
        head_sha = None if head == WORKTREE else resolve_commit(repo, head, "head")
        reader = _TreeReader(repo, toplevel, root)
        diags: list[Diagnostic] = []

        config, config_file, cfg_diags = _base_config(root, reader, base_sha, config_path)
        diags += cfg_diags

        library, waivers_raw = _library_at(root, reader, base_sha, policy_dir)
        packs, pack_diags = _packs_at(root, reader, base_sha, policy_dir)
        diags += pack_diags
        if library is None:
            library = load_library(root, policy_dir)
            base_waivers = load_waivers(_on_disk(root, policy_dir), library.directory)
            packs, pack_diags = load_packs(_on_disk(root, policy_dir) / PACKS_DIR, f"{policy_dir}/{PACKS_DIR}")
            diags += pack_diags  # adopting govops: its own packs judge it, like its own library
            diags.append(Diagnostic(policy_dir, 1, 1, "govops/unjudged",
                                    f"no policy library at base {base_sha[:12]}: this change is judged by its own "
                                    f"{policy_dir}/ (adopting govops)", severity="warning"))
        else:
            shown = f"{library.directory.rstrip('/')}/{WAIVERS_FILE}"
            base_waivers = [w for w, _ in parse_waivers(waivers_raw, f"{shown} at base {base_sha[:12]}")]

        head_raw = _head_waivers(root, reader, head_sha, policy_dir)

    shown = f"{library.directory.rstrip('/')}/{WAIVERS_FILE}"
    rules = Rules(config, config_file, library, list(base_waivers), base_sha, diags, base_waivers=list(base_waivers))
    try:
        rules.proposed_waivers = [(w, line) for w, line in parse_waivers(head_raw, shown) if w not in base_waivers]
    except PolicyError as exc:
        # the change breaks its waivers file: an error it must fix, whatever the base says
        diags.append(Diagnostic(exc.file or shown, exc.line or 1, exc.col or 1, "govops/waivers", exc.message))
    rules.waivers_file = shown
    rules.packs = packs
    return rules.admit(context)


def config_for_change(root: Path, base: str, config_path: Path | None = None) -> Governance:
    """The base's ``govops.yaml`` (tiers, checks, thresholds, groups) for anything that acts on a change."""
    from engine.change.gitread import open_repo, resolve_commit

    root = Path(root).resolve()
    with open_repo(root) as repo:
        toplevel = Path(repo.working_tree_dir or root).resolve()
        base_sha = resolve_commit(repo, base, "base")
        config, _, _ = _base_config(root, _TreeReader(repo, toplevel, root), base_sha, config_path)
    return config


def _base_config(
    root: Path, reader: _TreeReader, base_sha: str, config_path: Path | None
) -> tuple[Governance, str, list[Diagnostic]]:
    """The config at the base, or (when the base has none: adopting govops) the tree's, with a warning."""
    config, config_file, cfg_diags = _config_at(root, reader, base_sha, config_path)
    if config is not None:
        return config, config_file, cfg_diags
    config, config_file, cfg_diags = load_config(root, config_path)
    if config is None:
        raise ConfigError("govops.yaml is invalid; run `govops lint` and fix it first", file=config_file)
    note = Diagnostic(config_file, 1, 1, "govops/unjudged",
                      f"no {CONFIG_FILE} at base {base_sha[:12]}: this change is judged by its own govops.yaml "
                      "(adopting govops); later changes are judged by main's", severity="warning")
    return config, config_file, [note, *cfg_diags]


def _approvers(context: dict[str, Any] | None) -> set[str]:
    """People who approved the change (as the forge or the operator reported it), never its author."""
    if not context:
        return set()
    author = context.get("author")
    out: set[str] = set()
    for a in context.get("approvals") or []:
        name = a.get("approver") if isinstance(a, dict) else None
        if isinstance(name, str) and name and name != author:
            out.add(name)
    return out


def _on_disk(root: Path, directory: str) -> Path:
    return (root / directory).resolve()


class _TreeReader:
    """Reads files of one commit as Git objects (never the checkout), by govops-root-relative path."""

    def __init__(self, repo: Any, toplevel: Path, root: Path) -> None:
        self.repo = repo
        self.toplevel = toplevel
        rel = root.resolve().relative_to(toplevel).as_posix()
        self.prefix = "" if rel == "." else rel + "/"

    def inside(self, path: Path) -> str | None:
        """``path`` relative to the govops root when it lies in the repository, else None."""
        try:
            rel = path.resolve().relative_to(self.toplevel).as_posix()
        except ValueError:
            return None
        return rel[len(self.prefix):] if rel.startswith(self.prefix) else None

    def files(self, commit: str, directory: str) -> dict[str, str]:
        """Regular files under ``directory`` at ``commit``: name relative to it -> blob id."""
        from engine.change.gitread import run_git

        git_dir = (self.prefix + directory.strip("/")).rstrip("/")
        _, out, _ = run_git(self.repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", git_dir + "/")
        found: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.partition(b"\t")
            mode, kind, blob = meta.decode().split()
            name = path.decode("utf-8", "surrogateescape")
            if kind == "blob" and mode in _REGULAR and name.startswith(git_dir + "/"):
                found[name[len(git_dir) + 1:]] = blob
        return found

    def read(self, names: list[str]) -> dict[str, bytes | None]:
        from engine.change.gitread import cat_blobs

        return cat_blobs(self.repo, names)


def _config_at(
    root: Path, reader: _TreeReader, commit: str, config_path: Path | None
) -> tuple[Governance | None, str, list[Diagnostic]]:
    from engine.change.gitread import config_from_bytes

    rel = CONFIG_FILE if config_path is None else reader.inside(config_path)
    if rel is None:  # an operator's file outside the repository: trusted as given
        assert config_path is not None
        return load_config(root, config_path)
    raw = reader.read([f"{commit}:{reader.prefix}{rel}"]).get(f"{commit}:{reader.prefix}{rel}")
    if raw is None:
        return None, rel, []
    config, diags = config_from_bytes(raw, rel)
    if config is None:
        where = "; ".join(d.render() for d in diags[:3])
        raise ConfigError(f"{rel} at base {commit[:12]} is invalid, so nothing can judge this change: {where}",
                          file=rel)
    return config, rel, []


def _library_at(
    root: Path, reader: _TreeReader, commit: str, policy_dir: str
) -> tuple[PolicyLibrary | None, bytes | None]:
    """The policy library and waivers file bytes at ``commit`` (None when the base has no library)."""
    rel = reader.inside(root / policy_dir)  # an absolute policy_dir stays itself under root / ...
    if rel is None:  # an organisation-wide library outside the repository: read as given
        library = load_library(root, policy_dir)
        return library, _read_file(_on_disk(root, policy_dir) / WAIVERS_FILE)
    files = reader.files(commit, rel)
    rego = {n: b for n, b in files.items() if n.endswith(".rego")}
    if not rego:
        return None, None
    blobs = reader.read(list(rego.values()) + ([files[WAIVERS_FILE]] if WAIVERS_FILE in files else []))
    sources: dict[str, str] = {}
    for name, blob in sorted(rego.items()):
        try:
            sources[name] = (blobs.get(blob) or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(f"policy file is not UTF-8 (at base {commit[:12]})", file=f"{rel}/{name}",
                              line=1, col=1) from None
    library = library_from_sources(root, rel, sources, at=commit)
    return library, blobs.get(files[WAIVERS_FILE]) if WAIVERS_FILE in files else None


def _packs_at(root: Path, reader: _TreeReader, commit: str, policy_dir: str) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The regulation packs at ``commit`` (the base): a change can never weaken the pack it is judged by."""
    rel = reader.inside(root / policy_dir)
    if rel is None:  # an organisation-wide library outside the repository: read as given
        return load_packs(_on_disk(root, policy_dir) / PACKS_DIR, f"{policy_dir}/{PACKS_DIR}")
    files = {n[len(PACKS_DIR) + 1:]: b for n, b in reader.files(commit, rel).items()
             if n.startswith(PACKS_DIR + "/") and n.endswith(".yaml") and "/" not in n[len(PACKS_DIR) + 1:]}
    blobs = reader.read(list(files.values())) if files else {}
    return packs_from_files({n: blobs.get(b) or b"" for n, b in files.items()},
                            f"{rel.rstrip('/')}/{PACKS_DIR}")


def _head_waivers(root: Path, reader: _TreeReader, head_sha: str | None, policy_dir: str) -> bytes | None:
    """The change's own waivers file (the working tree's for ``WORKTREE``)."""
    rel = reader.inside(root / policy_dir)
    if rel is None:
        return None  # a library outside the repository cannot be changed by a change to it
    if head_sha is None:
        return _read_file(_on_disk(root, policy_dir) / WAIVERS_FILE)
    name = f"{head_sha}:{reader.prefix}{rel.strip('/')}/{WAIVERS_FILE}"
    return reader.read([name]).get(name)


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None
