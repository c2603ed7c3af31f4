"""Prediction workers: the only processes that ever load a model artifact.

Validation stage, model side. A joblib/pickle artifact is code: loading it runs whatever its
author put in ``__reduce__``, and a pull request pins its own artifact. So no govops process
that holds a token, writes results or posts statuses ever loads one. :class:`RemoteModel`
starts a *fresh* interpreter (exec'd, not forked: none of the parent's memory) with

- an allow-listed environment: ``PATH``, ``LANG``/``LANGUAGE``/``LC_*``, ``TZ`` and the BLAS/OpenMP
  thread knobs; ``HOME`` and ``TMPDIR`` are its own empty temporary folder. Nothing else: no
  ``GITHUB_TOKEN``, no ``GOVOPS_*`` settings, no cloud credentials, no webhook URLs.
  ``python -I`` ignores ``PYTHON*`` variables; the import path is passed as arguments;
- that temporary folder as its working directory;
- when govops runs as root, the uid and gid of an unprivileged user (``nobody``, or
  ``$GOVOPS_MODEL_WORKER_USER``) with no supplementary groups, so it cannot write the results
  folder, the caches or the repository, nor read the parent's ``/proc/<pid>/environ``;
- a parent-death signal (it dies with the process that started it), its own session (the
  parent kills the whole group when done) and a time limit on every call.

The parent sends the verified artifact bytes once and a feature matrix per call; the worker
sends back arrays only, as ``.npy`` bytes read with ``allow_pickle=False`` (object labels as
JSON scalars). Metrics, results and statuses are computed by the parent from those arrays,
so a worker can lie about predictions but not about anything else.

The worker side (:func:`serve`) runs this file alone, loaded by path: it must import nothing
but the standard library and numpy at module level (joblib or skops when loading), and the
parent side must never unpickle anything.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.spec.settings import Settings

#: Variables a worker may inherit, by exact name.
ALLOWED_ENV = frozenset({"PATH", "LANG", "LANGUAGE", "TZ"})
#: ...and by prefix (locale and thread knobs).
ALLOWED_ENV_PREFIXES = ("LC_", "OPENBLAS_", "OMP_", "MKL_")
#: The worker's settings, named in messages (``engine.spec.settings`` documents them; the parent
#: reads them, the worker never does): who the worker runs as when govops runs as root, and the
#: extra types a ``skops`` artifact may hold beyond skops' default trusted set.
USER_ENV = "GOVOPS_MODEL_WORKER_USER"
SKOPS_TRUSTED_ENV = "GOVOPS_SKOPS_TRUSTED_TYPES"
#: Artifact formats and what loads them. ``skops`` builds only trusted types (no code runs);
#: ``joblib``/``pickle`` run arbitrary code and are loaded in the sandboxed worker all the same.
FORMATS = ("joblib", "pickle", "skops")

#: ``require``: refuse to load an artifact when the worker could neither switch to an
#: unprivileged user nor apply Landlock (so it could write results); ``best-effort`` (default):
#: load it anyway, with the environment scrubbed.
SANDBOX_ENV = "GOVOPS_MODEL_SANDBOX"

MAX_HEADER = 1 << 20
_HEAD = struct.Struct(">IQ")
_SCALARS = (str, int, float, bool)
_KINDS = "biufU"


class ModelWorkerError(Exception):
    """The worker could not load the model, a call failed, or the worker broke the protocol.

    Outside ``engine.spec.errors``' tree on purpose: this file runs alone in the worker, where
    nothing but the standard library and numpy is imported (``tests/spec/test_error_tree.py``).
    """


_BOOT = (
    "import sys,importlib.util as u;"
    "sys.path[:]=[p for p in sys.argv[3:]];"
    "s=u.spec_from_file_location('govops_model_worker',sys.argv[1]);"
    "m=u.module_from_spec(s);sys.modules[s.name]=m;s.loader.exec_module(m);"
    "m.serve(int(sys.argv[2]))"
)


# --- framing (both sides) -------------------------------------------------------------------
def _frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _HEAD.pack(len(head), len(body)) + head + body


def encode_array(a: np.ndarray) -> tuple[dict[str, Any], bytes]:
    """An array as ``.npy`` bytes (no pickles), or object scalars as JSON."""
    if a.dtype.kind == "O":
        values = a.tolist()
        if a.ndim != 1 or not all(v is None or isinstance(v, _SCALARS) for v in values):
            raise ModelWorkerError("the model returned objects that are not plain labels (str, int, float, bool)")
        return {"encoding": "json"}, json.dumps(values).encode()
    if a.dtype.kind not in _KINDS:
        raise ModelWorkerError(f"the model returned an array of dtype {a.dtype}, which is not numbers or labels")
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return {"encoding": "npy"}, buf.getvalue()


def decode_array(meta: dict[str, Any], body: bytes) -> np.ndarray:
    """Inverse of :func:`encode_array`; never unpickles, refuses anything but numbers and labels."""
    if meta.get("encoding") == "json":
        values = json.loads(body)
        if not isinstance(values, list) or not all(v is None or isinstance(v, _SCALARS) for v in values):
            raise ModelWorkerError("the worker sent labels that are not a flat list of scalars")
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    if meta.get("encoding") != "npy":
        raise ModelWorkerError(f"the worker sent an unknown encoding {meta.get('encoding')!r}")
    try:
        arr = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelWorkerError(f"the worker sent an unreadable array: {exc}") from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in _KINDS:
        raise ModelWorkerError("the worker sent an array that is not numbers or labels")
    return arr


# --- the worker side --------------------------------------------------------------------------
def _read_all(fh: Any, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = fh.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parent_death_signal(parent: int) -> None:
    """Die with the parent (Linux); if it is already gone, stop now."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


_LL_FS_WRITES = (
    (1, (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11)
     | (1 << 12)),  # write file, remove dir/file, make char/dir/reg/sock/fifo/block/sym
    (2, 1 << 13),  # refer (link or rename across folders)
    (3, 1 << 14),  # truncate
)


def _landlock(home: str, *, writable: tuple[str, ...] = (), bind_ports: tuple[int, ...] = ()) -> int:
    """Confine this process with Landlock; return the ABI applied (0: not available).

    Forbids writing anywhere but ``home``, ``writable`` (and ``/dev/null``), TCP (but binding
    ``bind_ports``: a server's own ports), and signals or ptrace (``/proc/<pid>/environ``
    included) outside this process tree. Unprivileged, irrevocable, inherited by every child
    and kept across ``execve``.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    abi = int(libc.syscall(444, None, 0, 1))  # landlock_create_ruleset(NULL, 0, VERSION)
    if abi < 1:
        return 0
    fs = 0
    for since, bits in _LL_FS_WRITES:
        if abi >= since:
            fs |= bits
    net = 0b11 if abi >= 4 else 0  # bind and connect TCP
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals
    fields = [fs] + ([net] if abi >= 4 else []) + ([scoped] if abi >= 6 else [])
    attr = struct.pack(f"<{len(fields)}Q", *fields)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = int(libc.syscall(444, buf, len(attr), 0))
    if ruleset < 0:
        return 0
    try:
        paths = [(p, fs) for p in (home, *writable)] + [(os.devnull, 1 << 1 | (1 << 14 if abi >= 3 else 0))]
        for path, rights in paths:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = ctypes.create_string_buffer(struct.pack("<Qi", rights, fd), 12)
                if libc.syscall(445, ruleset, 1, rule, 0) != 0:  # landlock_add_rule(PATH_BENEATH)
                    return 0
            finally:
                os.close(fd)
        for port in bind_ports if abi >= 4 else ():
            rule = ctypes.create_string_buffer(struct.pack("<QQ", 1, port), 16)  # BIND_TCP on this port
            if libc.syscall(445, ruleset, 2, rule, 0) != 0:  # landlock_add_rule(NET_PORT)
                return 0
        if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
            return 0
        if libc.syscall(446, ruleset, 0) != 0:  # landlock_restrict_self
            return 0
    finally:
        os.close(ruleset)
    return abi


def landlock_abi() -> int:
    """The Landlock ABI this kernel offers (0: none, or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        return max(0, int(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1)))
    return 0


def _drop_capabilities() -> bool:
    """As root: empty the bounding set and every capability set (uid 0 stays, its powers go)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last cap)
    header = ctypes.create_string_buffer(struct.pack("<Ii", 0x20080522, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)
    return int(libc.capset(header, data)) == 0


def _confine() -> dict[str, Any]:
    """Everything the worker does to itself before it reads an artifact; reported to the parent."""
    out: dict[str, Any] = {"uid": os.getuid() if hasattr(os, "getuid") else None, "landlock": 0,
                           "capabilities_dropped": False}
    if not sys.platform.startswith("linux"):
        return out
    with contextlib.suppress(OSError, AttributeError):
        out["landlock"] = _landlock(os.getcwd())
    if os.getuid() == 0:
        with contextlib.suppress(OSError, AttributeError):
            out["capabilities_dropped"] = _drop_capabilities()
    return out


def _load(fmt: str, raw: bytes, trusted: list[str]) -> Any:
    if fmt == "skops":
        import skops.io as sio

        unknown = [t for t in sio.get_untrusted_types(data=raw) if t not in trusted]
        if unknown:
            raise ModelWorkerError(
                f"the skops artifact holds types that are not trusted: {', '.join(sorted(unknown)[:10])} "
                f"(an operator may trust them with {SKOPS_TRUSTED_ENV})"
            )
        return sio.loads(raw, trusted=trusted or None)
    import joblib

    return joblib.load(io.BytesIO(raw))


def _describe(model: Any) -> dict[str, Any]:
    """What the parent's proxy exposes: which methods exist and the fitted attributes checks read."""
    info: dict[str, Any] = {"predict": callable(getattr(model, "predict", None)),
                            "predict_proba": callable(getattr(model, "predict_proba", None))}
    if hasattr(model, "classes_"):
        meta, body = encode_array(np.asarray(model.classes_))
        info["classes"] = {**meta, "data": body.decode("latin-1")}
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        info["feature_names_in"] = [str(n) for n in names]
    n = getattr(model, "n_features_in_", None)
    if isinstance(n, (int, np.integer)):
        info["n_features_in"] = int(n)
    return info


def serve(parent: int) -> None:
    """The worker loop: load once, then answer ``predict``/``predict_proba`` calls until EOF."""
    _parent_death_signal(parent)
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # a model that prints must not corrupt the protocol

    def reply(header: dict[str, Any], body: bytes = b"") -> None:
        out.write(_frame(header, body))
        out.flush()

    reply({"hello": True, "sandbox": _confine()})  # before any artifact: a truthful report
    model: Any = None
    while True:
        try:
            hlen, blen = _HEAD.unpack(_read_all(inp, _HEAD.size))
            header = json.loads(_read_all(inp, hlen))
            body = _read_all(inp, blen)
        except EOFError:
            return
        try:
            if header.get("op") == "load":
                model = _load(str(header.get("format")), body, list(header.get("trusted") or []))
                reply({"ok": True, "model": _describe(model)})
            elif header.get("op") == "call" and model is not None:
                method = str(header.get("method"))
                if method not in ("predict", "predict_proba"):
                    raise ModelWorkerError(f"unknown method {method}")
                x = np.load(io.BytesIO(body), allow_pickle=False)
                meta, data = encode_array(np.asarray(getattr(model, method)(x)))
                reply({"ok": True, **meta}, data)
            else:
                raise ModelWorkerError(f"unexpected request {header.get('op')!r}")
        except BaseException as exc:  # a model may raise anything, SystemExit included
            with contextlib.suppress(Exception):
                reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]})
            if isinstance(exc, KeyboardInterrupt):
                return


# --- the parent side ----------------------------------------------------------------------------
def worker_env(environ: Mapping[str, str], home: Path) -> dict[str, str]:
    """The worker's whole environment: the allow-list, with ``HOME``/``TMPDIR`` in its own folder."""
    env = {k: v for k, v in environ.items() if k in ALLOWED_ENV or k.startswith(ALLOWED_ENV_PREFIXES)}
    env.setdefault("PATH", os.defpath)
    env.update(HOME=str(home), TMPDIR=str(home))
    return env


def _unprivileged() -> tuple[int, int] | None:
    """``(uid, gid)`` to run the worker as when govops is root; ``None`` when not root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    name = _settings().model_worker_user
    if not name:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ModelWorkerError(
            f"govops runs as root and model workers must run as an unprivileged user, but there is no user "
            f"'{name}' ({USER_ENV} names another; an empty value keeps root)"
        ) from None
    return entry.pw_uid, entry.pw_gid


def _searchable(path: str, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` can reach ``path`` (every folder above it searchable, itself readable)."""
    import stat

    p = Path(path)
    for folder in [*reversed(p.parents)]:
        try:
            st = folder.stat()
        except OSError:
            return False
        bit = stat.S_IXUSR if st.st_uid == uid else stat.S_IXGRP if st.st_gid == gid else stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    try:
        st = p.stat()
    except OSError:
        return False
    bit = stat.S_IRUSR if st.st_uid == uid else stat.S_IRGRP if st.st_gid == gid else stat.S_IROTH
    return bool(st.st_mode & bit)


def _can_run_as(uid: int, gid: int, extra: tuple[str, ...] = ()) -> bool:
    """Whether the unprivileged user can start this interpreter and import numpy and this file (and ``extra``)."""
    needed = [sys.executable, os.path.realpath(sys.executable), __file__, os.path.dirname(np.__file__), *extra]
    return all(_searchable(p, uid, gid) for p in needed)


def confined(sandbox: dict[str, Any]) -> bool:
    """Whether a worker's self-report shows it cannot write what this process can."""
    uid = sandbox.get("uid")
    return bool(sandbox.get("landlock")) or (isinstance(uid, int) and hasattr(os, "getuid") and uid != os.getuid())


def _settings() -> Settings:
    """The operator's settings, read in the parent only (the worker's environment holds no ``GOVOPS_*``)."""
    from engine.spec.settings import get_settings

    return get_settings()


def _timeout() -> float:
    """Seconds one load or one call may take (``GOVOPS_MODEL_WORKER_TIMEOUT``)."""
    return _settings().model_worker_timeout


def _import_path() -> list[str]:
    """The parent's absolute import folders (what the worker needs to import numpy, joblib, sklearn)."""
    return [p for p in dict.fromkeys(sys.path) if p and os.path.isabs(p) and os.path.isdir(p)]


def trusted_skops_types() -> list[str]:
    """The skops default trusted types plus the operator's extra ones (never from the spec)."""
    extra = [t.strip() for t in _settings().skops_trusted_types.split(",") if t.strip()]
    return extra


class _Proc:
    """One worker process and its temporary folder; closing kills its whole process group."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        ids = _unprivileged()
        if ids is not None and not _can_run_as(*ids):
            # e.g. an interpreter under /root (mode 0700): the worker stays uid 0 with every
            # capability dropped and Landlock confining its writes (see _confine)
            ids = None
        self.home = Path(tempfile.mkdtemp(prefix="govops-model-"))
        kwargs: dict[str, Any] = {}
        if ids is not None:
            os.chown(self.home, *ids)
            kwargs = {"user": ids[0], "group": ids[1], "extra_groups": []}
        self.stderr = tempfile.TemporaryFile(prefix="govops-model-stderr-")
        try:
            self.proc: subprocess.Popen[bytes] = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(Path(__file__).resolve()), str(os.getpid()),
                 *_import_path()],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                env=worker_env(os.environ, self.home), cwd=self.home, close_fds=True,
                start_new_session=True, umask=0o077, **kwargs,
            )
        except OSError as exc:
            self.close()
            raise ModelWorkerError(f"cannot start a model worker: {exc}") from exc
        self._finalizer = weakref.finalize(self, _Proc._kill, self.proc, self.home, self.stderr)
        assert self.proc.stdin is not None
        os.set_blocking(self.proc.stdin.fileno(), False)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes] | None, home: Path, stderr: Any) -> None:
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin:
                    proc.stdin.close()
            with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
            with contextlib.suppress(OSError):
                if proc.stdout:
                    proc.stdout.close()
        with contextlib.suppress(OSError):
            stderr.close()
        shutil.rmtree(home, ignore_errors=True)

    def close(self) -> None:
        fin = getattr(self, "_finalizer", None)
        if fin is not None:
            fin()
        else:
            _Proc._kill(getattr(self, "proc", None), self.home, self.stderr)

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 800))
            tail = self.stderr.read().decode("utf-8", "replace").strip()
            return f"; its last output: {tail[-600:]}" if tail else ""
        return ""

    def hello(self) -> dict[str, Any]:
        """The worker's first message: how it confined itself (sent before it reads any artifact)."""
        reply, _ = self.request(None, b"", 0)
        sandbox = reply.get("sandbox")
        return sandbox if reply.get("hello") and isinstance(sandbox, dict) else {}

    def request(self, header: dict[str, Any] | None, body: bytes, max_reply: int) -> tuple[dict[str, Any], bytes]:
        """Send one request (``None``: just listen) and wait, within the time limit, for the reply."""
        deadline = time.monotonic() + self.timeout_s
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if header is not None:
                self._write(_frame(header, body), deadline)
            hlen, blen = _HEAD.unpack(self._read(_HEAD.size, deadline))
            if hlen > MAX_HEADER or blen > max_reply:
                raise ModelWorkerError(f"the model worker sent an oversized reply ({hlen} + {blen} bytes)")
            reply = json.loads(self._read(hlen, deadline))
            data = self._read(blen, deadline)
        except (BrokenPipeError, EOFError, ConnectionError) as exc:
            code = self.proc.poll()
            self.close()
            how = "" if code is None else (f" (signal {-code})" if code < 0 else f" (exit code {code})")
            raise ModelWorkerError(f"the model worker died{how}{self._stderr_tail()}") from exc
        except TimeoutError:
            self.close()
            raise ModelWorkerError(f"the model worker did not answer within {self.timeout_s:g} s; it was stopped") \
                from None
        except ValueError as exc:
            self.close()
            raise ModelWorkerError(f"the model worker broke the protocol: {exc}") from exc
        if not isinstance(reply, dict):
            self.close()
            raise ModelWorkerError("the model worker broke the protocol: its reply is not an object")
        return reply, data

    def _write(self, data: bytes, deadline: float) -> None:
        """Write without blocking past the deadline (a worker that stops reading cannot hang us)."""
        assert self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError
            _, ready, _ = select.select([], [fd], [], wait)
            if not ready:
                raise TimeoutError
            try:
                sent = os.write(fd, view[: 1 << 16])
            except BlockingIOError:
                continue
            view = view[sent:]

    def _read(self, n: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks, left = [], n
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


class RemoteModel:
    """A model that lives in a sandboxed prediction worker, seen through what the checks use.

    ``predict``, ``predict_proba`` (when the model has it), ``classes_``, ``feature_names_in_``
    and ``n_features_in_``. Attributes the model lacks raise ``AttributeError``, so ``hasattr`` answers as it would on
    the real model.
    """

    def __init__(self, raw: bytes, fmt: str, uri: str = "model", *, timeout_s: float | None = None) -> None:
        if fmt not in FORMATS:
            raise ModelWorkerError(f"{uri}: format '{fmt}' cannot be loaded (supported: {', '.join(FORMATS)})")
        self.uri = uri
        self.format = fmt
        self._proc = _Proc(timeout_s or _timeout())
        self.sandbox = self._proc.hello()
        if _settings().model_sandbox == "require" and not confined(self.sandbox):
            self._proc.close()
            raise ModelWorkerError(
                f"{SANDBOX_ENV}=require, but the prediction worker could not be confined (no unprivileged user "
                f"to switch to and no Landlock support: {self.sandbox}); refusing to load {uri}"
            )
        trusted = trusted_skops_types() if fmt == "skops" else []
        reply, _ = self._proc.request({"op": "load", "format": fmt, "trusted": trusted}, raw, 0)
        if not reply.get("ok"):
            self._proc.close()
            raise ModelWorkerError(str(reply.get("error") or "unknown error"))
        info = reply.get("model")
        if not isinstance(info, dict):
            self._proc.close()
            raise ModelWorkerError("the model worker broke the protocol: no model description")
        self._info = info
        self._classes: np.ndarray | None = None
        cls = info.get("classes")
        if isinstance(cls, dict) and isinstance(cls.get("data"), str):
            self._classes = decode_array(cls, cls["data"].encode("latin-1"))

    # --- what the checks call --------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's predictions for ``x``, computed in the worker."""
        if not self._info.get("predict"):
            raise AttributeError(f"{self.uri} has no predict method")
        return self._call("predict", x)

    @property
    def predict_proba(self) -> Any:
        """The model's class probabilities (an ``AttributeError`` when it has none)."""
        if not self._info.get("predict_proba"):
            raise AttributeError(f"{self.uri} has no predict_proba method")
        return lambda x: self._call("predict_proba", x)

    @property
    def classes_(self) -> np.ndarray:
        """The classifier's labels, as the model holds them."""
        if self._classes is None:
            raise AttributeError(f"{self.uri} has no classes_")
        return self._classes

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The column names the model was fitted on."""
        names = self._info.get("feature_names_in")
        if not isinstance(names, list):
            raise AttributeError(f"{self.uri} has no feature_names_in_")
        return np.asarray([str(n) for n in names], dtype=object)

    @property
    def n_features_in_(self) -> int:
        """How many inputs the model was fitted on."""
        n = self._info.get("n_features_in")
        if not isinstance(n, int):
            raise AttributeError(f"{self.uri} has no n_features_in_")
        return n

    def fit(self, *args: Any, **kwargs: Any) -> RemoteModel:
        """Refuse: validation judges fitted models.

        Present because scikit-learn helpers such as ``permutation_importance`` accept only
        objects that look like estimators.
        """
        raise TypeError(f"{self.uri} is a fitted model in a prediction worker; it cannot be refitted")

    def _call(self, method: str, x: np.ndarray) -> np.ndarray:
        arr = np.ascontiguousarray(np.asarray(x, dtype=float))
        _, body = encode_array(arr)
        limit = 256 * (1 << 20) + 64 * max(arr.nbytes, 1)
        reply, data = self._proc.request({"op": "call", "method": method}, body, limit)
        if not reply.get("ok"):
            raise ModelWorkerError(str(reply.get("error") or "unknown error"))
        return decode_array(reply, data)

    def close(self) -> None:
        """Stop the worker and remove its folder."""
        self._proc.close()

    def __enter__(self) -> RemoteModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteModel({self.uri!r}, format={self.format!r})"


# --- a confined server: serving_parity's MLServer ------------------------------------------------
# ``serving_parity`` starts a real MLServer on the PR's artifact, so MLServer's ``joblib.load``
# runs the same untrusted ``__reduce__`` as a prediction worker. This file, run by path with
# ``--exec-confined``, is the launcher: a supervisor that stays outside the sandbox (it only
# watches and kills) and one child that confines itself exactly like a worker, then ``execv``s
# the server. Landlock, the dropped capabilities, ``no_new_privs`` and the uid switch all
# survive ``execve``; the child never returns to Python code the parent wrote after that.

#: Exit code of the launcher's child when it could not apply the confinement it was asked for.
CONFINE_FAILED = 97
_CLONE_NEWPID = 0x20000000
_CAP_SYS_ADMIN = 21


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """``(state, ppid, session, start time)`` of ``pid``, or ``None`` when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1]), int(fields[3]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _process_table() -> dict[int, tuple[str, int, int, int]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _proc_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def _descendants(root: int, table: dict[int, tuple[str, int, int, int]] | None = None) -> set[int]:
    """Every live process below ``root`` (children, theirs, ...)."""
    table = _process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _kill_tree(root: int) -> set[int]:
    """Freeze every descendant of ``root`` until no new one appears, then SIGKILL them all.

    Stopped processes cannot fork, and with ``root`` a child subreaper an orphan comes back
    under ``root`` instead of escaping to init, so the tree is closed before it is killed
    (``killpg`` alone misses a daemon that called ``setsid``).
    """
    stopped: set[int] = set()
    for _ in range(200):
        new = _descendants(root) - stopped
        if not new:
            break
        for pid in new:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= new
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:  # signals are asynchronous: wait until they have stopped
            states = [_proc_stat(p) for p in new]
            if all(st is None or st[0] in "TtZX" for st in states):
                break
            time.sleep(0.01)
    for pid in stopped:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return stopped


def _fail(message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, f"govops sandbox: cannot confine the server: {message}\n".encode())
    os._exit(CONFINE_FAILED)


def _confine_and_exec(opts: Any, command: list[str], supervisor: int, in_namespace: bool) -> None:
    """The launcher's child: confine itself like a prediction worker, then become ``command``."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if opts.user:
        uid, gid = (int(v) for v in opts.user.split(":"))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if os.getuid() == 0 and not _drop_capabilities():
        _fail("could not drop the capabilities of uid 0")
    ports = tuple(int(p) for p in opts.allow_tcp_port.split(",") if p.strip())
    abi = _landlock(opts.workdir, writable=tuple(opts.write), bind_ports=ports) if opts.landlock_min > 0 else 0
    if abi < opts.landlock_min:
        _fail(f"Landlock ABI {opts.landlock_min} was expected and {abi} could be applied")
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (already set by Landlock when it applied)
    libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG: after the uid switch, which clears it
    if os.getppid() != (0 if in_namespace else supervisor):
        os._exit(0)  # the supervisor is already gone
    os.chdir(opts.workdir)
    os.execv(command[0], command)


def _exec_confined(argv: list[str]) -> None:
    """``model_worker.py --exec-confined WORKDIR [options] -- COMMAND...``: run COMMAND confined.

    The process that runs this is the supervisor: a child subreaper (orphans of the server come
    back to it), not dumpable, in a new PID namespace when asked (root), dying with ``--parent``.
    It forks the child that confines itself and ``execv``s COMMAND; when that child exits, or
    the supervisor is told to stop (SIGTERM/SIGINT/SIGHUP), it kills every process below it.
    """
    import argparse
    import ctypes

    if "--" not in argv:
        print("usage: model_worker.py --exec-confined WORKDIR [options] -- COMMAND...", file=sys.stderr)
        os._exit(2)
    cut = argv.index("--")
    parser = argparse.ArgumentParser(prog="model_worker.py --exec-confined")
    parser.add_argument("workdir")
    parser.add_argument("--write", action="append", default=[], help="another folder the server may write")
    parser.add_argument("--allow-tcp-port", default="", help="TCP ports the server may bind (comma separated)")
    parser.add_argument("--landlock-min", type=int, default=0,
                        help="apply Landlock and refuse to run below this ABI (0: no Landlock, as planned)")
    parser.add_argument("--user", default="", help="UID:GID to switch to")
    parser.add_argument("--pidns", action="store_true", help="a new PID namespace (needs CAP_SYS_ADMIN)")
    parser.add_argument("--parent", type=int, default=0, help="die with this process")
    opts = parser.parse_args(argv[:cut])
    command = argv[cut + 1:]
    if not command:
        parser.error("no command to run")
    if opts.parent:
        _parent_death_signal(opts.parent)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: nothing of the same uid may ptrace this process
    in_namespace = bool(opts.pidns) and libc.unshare(_CLONE_NEWPID) == 0
    me = os.getpid()
    child = os.fork()
    if child == 0:
        try:
            _confine_and_exec(opts, command, me, in_namespace)
        except BaseException as exc:  # noqa: BLE001 - whatever failed, never run the command unconfined
            _fail(f"{type(exc).__name__}: {exc}")
        _fail("exec returned")

    def finish(code: int) -> None:
        _kill_tree(me)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # reap what was killed (orphans are ours: subreaper)
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.02)
        os._exit(code)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: finish(128 + s))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            finish(1)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
    code = os.waitstatus_to_exitcode(status)
    finish(code if code >= 0 else 128 - code)


# --- the parent side of a confined server --------------------------------------------------------
def _cap_effective(pid: int | str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return None
    return None


def sandbox_plan(needs: tuple[str, ...] = ()) -> dict[str, Any]:
    """How a confined server will be run here: Landlock ABI, uid, PID namespace.

    ``needs`` are the files the unprivileged user must reach to run the server (its script and
    package); without them the server stays uid 0 with every capability dropped.
    """
    ids = _unprivileged()
    if ids is not None and not _can_run_as(*ids, extra=needs):
        ids = None
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    caps = _cap_effective() or 0
    return {
        "landlock": landlock_abi(),
        "user": list(ids) if ids else None,
        "uid": ids[0] if ids else (os.getuid() if hasattr(os, "getuid") else None),
        "pid_namespace": bool(root and sys.platform.startswith("linux") and caps >> _CAP_SYS_ADMIN & 1),
    }


def confined_command(command: list[str], workdir: Path, plan: dict[str, Any], *,
                     writable: tuple[str, ...] = (), tcp_ports: tuple[int, ...] = ()) -> list[str]:
    """The argv that runs ``command`` under ``plan`` (see :func:`sandbox_plan`).

    The launcher refuses to run ``command`` when it cannot apply the planned Landlock ABI or
    uid switch, so a server that started is as confined as the plan says. The server may bind
    exactly ``tcp_ports``, connect nowhere over TCP (ABI >= 4) and write ``workdir`` and
    ``writable`` only.
    """
    cmd = [sys.executable, "-I", str(Path(__file__).resolve()), "--exec-confined", str(workdir),
           "--allow-tcp-port", ",".join(str(p) for p in tcp_ports), "--landlock-min", str(plan["landlock"]),
           "--parent", str(os.getpid())]
    for path in writable:
        cmd += ["--write", str(path)]
    if plan.get("user"):
        cmd += ["--user", f"{plan['user'][0]}:{plan['user'][1]}"]
    if plan.get("pid_namespace"):
        cmd.append("--pidns")
    return [*cmd, "--", *command]


def _pid_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def inspect_sandbox(supervisor: int, plan: dict[str, Any]) -> dict[str, Any]:
    """What the parent sees, from outside, of every process below the launcher's supervisor.

    Each must run as the planned uid, with ``no_new_privs``, no effective capabilities and (when
    planned) in another PID namespace: none of these can be undone from inside, so a payload
    that already ran cannot fake them. Landlock is not visible in ``/proc``: the launcher
    refuses to start without the planned ABI. Returns ``{"pids": {pid: start time},
    "namespace": ..., "problems": [...]}``.
    """
    table = _process_table()
    pids = {p: table[p][3] for p in _descendants(supervisor, table) if table[p][0] not in "ZX"}
    problems: list[str] = []
    mine = _pid_namespace("self")
    namespaces = set()
    for pid in sorted(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields.get("Uid", "-1 -1").split()[1])
        if plan.get("uid") is not None and uid != plan["uid"]:
            problems.append(f"process {pid} runs as uid {uid}, not {plan['uid']}")
        if fields.get("NoNewPrivs", "0").strip() != "1":
            problems.append(f"process {pid} lacks no_new_privs")
        if int(fields.get("CapEff", "0").strip() or "0", 16):
            problems.append(f"process {pid} holds capabilities")
        ns = _pid_namespace(pid)
        if plan.get("pid_namespace"):
            if ns is None or ns == mine:
                problems.append(f"process {pid} is not in its own PID namespace")
            else:
                namespaces.add(ns)
    if len(namespaces) > 1:
        problems.append(f"the server's processes are in {len(namespaces)} PID namespaces")
    return {"pids": pids, "namespace": next(iter(namespaces), None), "problems": problems}


def sandbox_survivors(supervisor: int, seen: dict[int, int], namespace: str | None, *, kill: bool = True) -> list[int]:
    """Processes from a stopped sandbox that are still alive (killed with SIGKILL when ``kill``).

    A survivor is a process seen below the supervisor (same pid *and* start time), in the
    supervisor's session, below the supervisor, or in the sandbox's PID namespace.
    """
    def scan() -> list[int]:
        table = _process_table()
        below = _descendants(supervisor, table) if supervisor in table else set()
        return sorted(
            pid for pid, (state, _, session, start) in table.items()
            if state not in "ZX" and pid != os.getpid()
            and (seen.get(pid) == start or session == supervisor or pid in below
                 or (namespace is not None and _pid_namespace(pid) == namespace))
        )

    found = scan()
    left = found
    for _ in range(100):
        if not left or not kill:
            break
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        left = scan()
    return found


__all__ = [
    "CONFINE_FAILED", "FORMATS", "ModelWorkerError", "RemoteModel", "confined", "confined_command", "decode_array",
    "encode_array", "inspect_sandbox", "landlock_abi", "sandbox_plan", "sandbox_survivors", "worker_env",
]

if __name__ == "__main__" and sys.argv[1:2] == ["--exec-confined"]:
    _exec_confined(sys.argv[2:])
