"""A content-addressed cache of per-spec results (``lint``, ``check --all``), outside every checkout.

An entry is found by the digest of everything its result depends on: the spec's bytes and
path, the govops code that judged it, the library (``govops.yaml``, the policy directory
with its waivers and packs, as read for the run), the ``GOVOPS_*`` settings and the change
context; files a spec names by URI (artifacts, data) are recorded with their kind, size
and real path and compared again on every read. So an unchanged spec costs one read and
one hash, and a changed one is judged again, alone.

Entries live under ``<cache dir>/results/`` (``engine.spec.statedir``: never inside the
repository, never a directory others may write). Every entry names its key inside and
carries an HMAC over key and payload with a secret kept beside the entries (0600): an entry
copied under another key, edited, truncated or written by anyone without the secret is a
miss, never a pass. The callers validate the payload's shape as well.

This module imports nothing heavy (no settings class, no pydantic, no YAML): it is the
warm path. It reads the few settings it needs from the environment by their ``GOVOPS_*``
names (``tests/spec/test_result_cache.py`` checks they agree with ``engine.spec.settings``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import engine
from engine.spec.diagnostics import Diagnostic

FORMAT = "govops/result-cache/v1"
KIND = "results"
SECRET = "secret"
FALSE = {"0", "false", "f", "no", "n", "off"}
ENGINE_DIR = Path(engine.__file__).resolve().parent


def digest(*parts: str | bytes) -> str:
    """sha256 over ``parts``, each length-prefixed (no two part lists share a digest)."""
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(f"{len(b)}:".encode())
        h.update(b)
    return h.hexdigest()


def env_setting(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """``GOVOPS_<NAME>`` as ``engine.spec.settings`` reads it (blank means unset)."""
    value = env.get(f"GOVOPS_{name.upper()}")
    return value if value is not None and value.strip() else default


def enabled(env: Mapping[str, str]) -> bool:
    """False when ``GOVOPS_POLICY_CACHE`` turns caching off (the same switch as the decision cache)."""
    return (env_setting(env, "policy_cache") or "true").strip().lower() not in FALSE


def settings_digest(env: Mapping[str, str]) -> str:
    """Every ``GOVOPS_*`` variable: a result is reused only under the same settings."""
    return digest(*(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("GOVOPS_")))


def code_digest() -> str:
    """The govops version and every file of the engine package (name, size, mtime): code that judged."""
    parts = [engine.__version__]
    for dirpath, dirnames, filenames in os.walk(ENGINE_DIR):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".json", ".rego", ".yaml", ".tmpl")):
                st = os.stat(os.path.join(dirpath, name))
                parts.append(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return digest(*parts)


READ_LIMIT = 64 * 1024 * 1024
"""Files larger than this are named by their identity (size, time, inode), not their bytes: lint refuses them."""


def file_digest(path: Path | str) -> str:
    """sha256 of a file's bytes; a FIFO, device or socket is never opened (a spec symlinked to ``/dev/zero``)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return f"special:{stat.S_IFMT(st.st_mode)}"
        with open(path, "rb") as fh:
            data = fh.read(READ_LIMIT + 1)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    if len(data) > READ_LIMIT:
        return f"large:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}"
    return hashlib.sha256(data).hexdigest()


def tree_digest(directory: Path) -> str:
    """Every file under ``directory`` (relative name and bytes), hidden ones included: what a library reads."""
    parts: list[str] = []
    seen: set[tuple[int, int]] = set()
    if directory.is_dir():
        # links followed, as the library's rglob follows them; each real directory once (no loops)
        for dirpath, dirnames, filenames in os.walk(directory, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                parts.append(f"{Path(dirpath).relative_to(directory).as_posix()}=seen")
                continue
            seen.add((st.st_dev, st.st_ino))
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                parts.append(f"{path.relative_to(directory).as_posix()}={file_digest(path)}")
    return digest(*parts)


def spec_uris(data: Any) -> list[str]:
    """Every ``uri`` string in a spec's data: the files its lint result can depend on."""
    out: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "uri" and isinstance(v, str):
                    out.add(v)
                else:
                    stack.append(v)
        elif isinstance(value, list):
            stack.extend(value)
    return sorted(out)


class Signatures:
    """What lint sees of the files URIs name (real path, kind, size), memoised for one run.

    The real path is the real path of the directory (looked up once per directory) joined
    with the name, resolved again only when the name itself is a link: the same answer as
    ``os.path.realpath`` at a fraction of the system calls.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._dirs: dict[str, str] = {}
        self._seen: dict[str, str] = {}

    def __call__(self, uri: str) -> str:
        """``remote``, ``unreadable:<errno>:<real path>`` or ``<real path>:<kind>:<size>``."""
        found = self._seen.get(uri)
        if found is None:
            found = self._seen[uri] = self._signature(uri)
        return found

    def _signature(self, uri: str) -> str:
        from engine.spec.uris import local_path

        try:
            path = local_path(uri, self.root)
        except (ValueError, OSError):
            return "unresolvable"
        if path is None:
            return "remote"
        name = os.path.abspath(path)
        parent = os.path.dirname(name)
        real_parent = self._dirs.get(parent)
        if real_parent is None:
            real_parent = self._dirs[parent] = os.path.realpath(parent)
        real = os.path.join(real_parent, os.path.basename(name))
        if os.path.islink(real):
            real = os.path.realpath(real)
        try:
            st = os.stat(real)
        except OSError as exc:
            return f"unreadable:{exc.errno}:{real}"
        return f"{real}:{stat.S_IFMT(st.st_mode)}:{st.st_size}"

    def of(self, uris: Iterable[str]) -> dict[str, str]:
        """The signature of each URI."""
        return {u: self(u) for u in uris}


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """A diagnostic as stored in an entry (every field)."""
    return {"file": d.file, "line": d.line, "col": d.col, "rule": d.rule, "message": d.message,
            "severity": d.severity, "model": d.model, "path": d.path}


def diagnostic_from(value: Any) -> Diagnostic:
    """The diagnostic stored as ``value``; ``ValueError`` for anything not exactly that shape."""
    if not isinstance(value, dict) or set(value) != {"file", "line", "col", "rule", "message", "severity", "model",
                                                     "path"}:
        raise ValueError("not a stored diagnostic")
    ok = (isinstance(value["file"], str) and type(value["line"]) is int and type(value["col"]) is int
          and isinstance(value["rule"], str) and isinstance(value["message"], str)
          and value["severity"] in ("error", "warning")
          and (value["model"] is None or isinstance(value["model"], str))
          and (value["path"] is None or isinstance(value["path"], str)))
    if not ok:
        raise ValueError("not a stored diagnostic")
    return Diagnostic(**value)


def diagnostics_from(value: Any) -> list[Diagnostic]:
    """A stored list of diagnostics (``ValueError`` when it is not one)."""
    if not isinstance(value, list):
        raise ValueError("not a list of diagnostics")
    return [diagnostic_from(v) for v in value]


class ResultStore:
    """Entries under ``<cache dir>/results/``, each one JSON file named by its key, signed with a local secret."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        from engine.spec.cache_location import resolve
        from engine.spec.statedir import cache_dir_at

        self.dir = cache_dir_at(resolve(env_setting(env, "cache_dir"), env), KIND, root=root)
        self._secret: bytes | None = None
        self._pack: dict[str, str] = {}
        self._used: dict[str, str] = {}
        self.reads = 0
        self.writes = 0

    def secret(self) -> bytes | None:
        """The signing key (created once, 0600); None when it cannot be had (then nothing is read or written)."""
        if self._secret is not None:
            return self._secret
        path = self.dir / SECRET
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError:
            return None
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32))
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077 or st.st_uid != os.getuid():
                return None  # not ours alone: trust nothing signed with it
            key = path.read_bytes()
        except OSError:
            return None
        self._secret = key if len(key) == 32 else None
        return self._secret

    def _path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    @staticmethod
    def _mac(secret: bytes, key: str, payload: bytes) -> str:
        return hmac.new(secret, FORMAT.encode() + b"\0" + key.encode() + b"\0" + payload, hashlib.sha256).hexdigest()

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None: missing, unreadable, foreign, edited or unsigned.

        An entry is one line ``<format> <key> <mac>`` followed by the value's JSON.
        """
        secret = self.secret()
        if secret is None:
            return None
        packed = self._pack.get(key)
        if packed is not None:
            raw = packed.encode()
        else:
            try:
                with open(os.path.join(self.dir, key[:2], key + ".json"), "rb") as fh:
                    raw = fh.read()
            except OSError:
                return None
            self.reads += 1
        head, sep, payload = raw.partition(b"\n")
        fields = head.decode("ascii", "replace").split(" ")
        if not sep or len(fields) != 3 or fields[0] != FORMAT or fields[1] != key:
            return None
        if not hmac.compare_digest(fields[2], self._mac(secret, key, payload)):
            return None
        try:
            value = json.loads(payload)
        except ValueError:
            return None
        self._used[key] = raw.decode()
        return value

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``, atomically; best effort (an unwritable cache is no cache)."""
        secret = self.secret()
        if secret is None:
            return
        payload = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        path = self._path(key)
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            raw = f"{FORMAT} {key} {self._mac(secret, key, payload)}\n".encode() + payload
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)
            self.writes += 1
            self._used[key] = raw.decode()
        except OSError:
            return

    # A pack: every entry one run read, in one file, so the next identical run opens one file instead of
    # one per spec. Only an accelerator: each entry in it is checked exactly as a file of its own would be.

    def open_pack(self, name: str) -> None:
        """Read the pack ``name`` (a scope digest); a missing or malformed pack is simply empty."""
        try:
            with open(os.path.join(self.dir, "packs", name + ".json"), "rb") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            self._pack = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}

    def save_pack(self, name: str) -> None:
        """Write the entries this run read as the pack ``name``, unless they are exactly the pack it opened."""
        if self._used == self._pack or not self._used:
            return
        folder = self.dir / "packs"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(self._used, fh, separators=(",", ":"))
            os.replace(tmp, folder / f"{name}.json")
        except OSError:
            return


class SpecEntry:
    """One spec's cached result: its own diagnostics, its model id and where its name is, and ``extra``.

    ``extra`` holds the findings that exist only for a valid spec that is the first to declare
    its model (lint's evidence rule, check's policy violations): a duplicate gets neither.
    """

    __slots__ = ("diags", "extra", "file", "id", "pos")

    def __init__(self, file: str, diags: list[Diagnostic], model: str | None, pos: tuple[int, int],
                 extra: list[Diagnostic]) -> None:
        self.file, self.diags, self.id, self.pos, self.extra = file, diags, model, pos, extra

    def value(self, uris: list[str], sigs: dict[str, str]) -> dict[str, Any]:
        """The JSON stored for this entry, with the URIs its result depends on and their signatures."""
        return {"file": self.file, "diags": [diagnostic_json(d) for d in self.diags], "id": self.id,
                "pos": list(self.pos), "extra": [diagnostic_json(d) for d in self.extra], "uris": uris,
                "sigs": sigs}

    @classmethod
    def read(cls, value: Any, file: str, sig: Signatures) -> SpecEntry | None:
        """The entry stored as ``value`` for ``file``, if well formed and its files are as they were."""
        try:
            if not isinstance(value, dict) or value.get("file") != file:
                return None
            uris, sigs, pos, model = value["uris"], value["sigs"], value["pos"], value["id"]
            if not (isinstance(uris, list) and all(isinstance(u, str) for u in uris) and isinstance(sigs, dict)):
                return None
            if not (isinstance(pos, list) and len(pos) == 2 and all(type(x) is int for x in pos)):
                return None
            if model is not None and not isinstance(model, str):
                return None
            if any(sigs.get(u) != sig(u) for u in uris):
                return None  # an artifact or data file changed kind, size or place
            return cls(file, diagnostics_from(value["diags"]), model, (pos[0], pos[1]),
                       diagnostics_from(value["extra"]))
        except (KeyError, ValueError, TypeError):
            return None


def file_findings(diagnostics: Iterable[Diagnostic], config_file: str, by_file: dict[str, list[Diagnostic]],
                  pending: list[tuple[str, str, str]]) -> set[str] | None:
    """File each spec's own findings of one batch under ``by_file``; the specs to run again, or None.

    ``pending`` are the batch's ``(path, shown name, key)``; each gets a fresh list. The config's
    findings belong to the run entry; a duplicate-id finding is left out and its spec is run again
    in the next batch (duplicates are found across all specs when the results are put together).
    None when a finding names no spec of the batch: the caller then works without the cache.
    """
    by_file.update({shown: [] for _, shown, _ in pending})
    again: set[str] = set()
    for d in diagnostics:
        if d.file == config_file:
            continue
        if d.file not in by_file:
            return None
        if d.rule == "spec/duplicate-id":
            again.add(d.file)
        else:
            by_file[d.file].append(d)
    return again


def assemble(entries: list[SpecEntry]) -> tuple[list[Diagnostic], list[Diagnostic], int]:
    """(each spec's diagnostics with duplicate ids found, the extras of first declarations, models counted).

    The same first-one-wins rule as ``load_workspace``, over entries in file order.
    """
    from engine.spec.spec_files import duplicate_id

    own: list[Diagnostic] = []
    extras: list[Diagnostic] = []
    first: dict[str, str] = {}
    elsewhere: set[tuple[str, str]] = set()
    for e in entries:
        own.extend(e.diags)
        if e.id is None:
            continue
        if e.id in first:
            own.append(duplicate_id(e.file, e.pos[0], e.pos[1], e.id, first[e.id]))
            continue
        first[e.id] = e.file
        for d in e.extra:
            if d.file != e.file:  # a finding about another file (the change, govops.yaml): reported once
                if (d.rule, d.message) in elsewhere:
                    continue
                elsewhere.add((d.rule, d.message))
            extras.append(d)
    return own, extras, len(first)


def spec_keys(files: list[str], root: Path, scope: str) -> list[tuple[str, str, str]]:
    """(path, shown name, entry key) of each spec file under the run's ``scope`` digest.

    The shown name is ``engine.spec.spec_files.display_path``'s, with each directory resolved
    once and plain strings instead of ``Path`` objects (a thousand of those cost more than the hashing).
    """
    from engine.spec.spec_files import display_path

    prefix = str(root.resolve()) + os.sep
    dirs: dict[str, str] = {}
    out = []
    for f in files:
        folder, name = os.path.split(os.path.abspath(f))
        real_folder = dirs.get(folder)
        if real_folder is None:
            real_folder = dirs[folder] = os.path.realpath(folder)
        real = os.path.join(real_folder, name)
        if os.path.islink(real):
            shown = display_path(Path(f), root)
        elif real.startswith(prefix):
            shown = real[len(prefix):].replace(os.sep, "/")
        else:
            shown = str(f)
        out.append((f, shown, digest(scope, shown, file_digest(f))))
    return out
