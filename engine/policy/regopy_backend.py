"""The embedded backend: rego-cpp (regopy) in worker processes, one compiled bundle each.

Part of the policy stage. Each worker compiles the library once (``build`` with the
query ``data.govops.main``), with the run-level documents (govops.yaml, freezes,
waivers) added as ``data.govops_run`` so inputs can be sent in the compact form
(``engine.policy.compact``: taking in the input is most of regopy's cost), and answers
one ``query_bundle`` per input, with strict builtin errors on; each input is handed
over as a built value where that keeps it exact (``engine.policy.regopy_input``), every
string in the canonical form of ``engine.policy.exact``, and every answer is parsed with
duplicate keys refused (a string that broke out of its quotes is an error). The
compiled bundle can be cached on disk (rego-cpp's binary bundle format) keyed by the
policy digest, the run data and the regopy build; a cached bundle that does not load
is deleted and rebuilt. Workers are separate processes so a query that runs too long is
stopped by killing its worker (a clear error naming the model, never a hang), and so a
crash inside rego-cpp cannot take govops down with it. ``ok()`` is always checked
before the result is read (reading a failed output aborts the process). Inputs are
spread over workers in chunks, evaluated one model per query (one big query grows
more than linearly in regopy). Never decides "allow" on an error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import multiprocessing
import os
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from engine.policy.backend import Decision, check_result, refuse_inexact
from engine.policy.cache import CACHE_KIND
from engine.policy.compact import RUN_DATA_ROOT, data_json
from engine.policy.errors import PolicyError
from engine.policy.exact import loads_strict
from engine.policy.library import ENTRYPOINT, PolicyLibrary
from engine.policy.rego_errors import line_col, parse_errors
from engine.policy.regopy_input import set_input
from engine.spec.errors import MalformedOutput
from engine.spec.statedir import cache_dir

MIN_PER_WORKER = 64
MAX_CHUNK = 100


# ---------------------------------------------------------------- in the worker process


def _error_text(node: Any) -> str:
    """Messages found in an error node tree (regopy's low-level node API)."""
    from regopy import rego_shared as rs

    messages: list[str] = []

    def walk(n: Any, depth: int) -> None:
        if depth > 8 or not n:
            return
        kind = rs.rego.regoNodeType(n)
        if kind in (1801,):  # ErrorMessage
            try:
                messages.append(rs.rego_node_value(n))
            except Exception:  # noqa: BLE001 - best effort message extraction
                pass
        for i in range(rs.rego_node_size(n)):
            walk(rs.rego_node_get(n, i), depth + 1)

    walk(node, 0)
    return "; ".join(m for m in messages if m) or "rego-cpp reported an error without a message"


def _read_output(impl: Any) -> tuple[bool, str]:
    """(ok, JSON text or error message); ``ok()`` is checked before anything else is read."""
    from regopy import rego_shared as rs

    try:
        if not rs.rego_output_ok(impl):
            return False, _error_text(rs.rego_output_node(impl))
        text = rs.rego_output_string(impl)
    finally:
        rs.rego_free_output(impl)
    if text.startswith("(error"):
        return False, "; ".join(p.message for p in parse_errors(text))
    return True, text


def _value(text: str) -> tuple[str, Any]:
    """("ok", value), ("undefined", why) or ("error", why) for one query's output text.

    The text is parsed strictly (``exact.loads_strict``): a duplicate key or anything
    else that does not read as exactly one result is an error, never a decision.
    """
    if text.strip() == "undefined":
        return "undefined", "undefined"
    try:
        doc = loads_strict(text)
    except MalformedOutput as exc:
        return "error", f"rego-cpp's output cannot be read exactly: {exc}"
    if isinstance(doc, list):
        if len(doc) != 1:
            return "error", f"expected one result, got {len(doc)}"
        doc = doc[0]
    if not isinstance(doc, dict):
        return "error", f"expected a result object, got {type(doc).__name__}"
    exprs = doc.get("expressions")
    if exprs is None or exprs == []:
        return "undefined", "undefined"
    if not isinstance(exprs, list) or len(exprs) != 1:
        return "error", f"expected one expression, got {exprs!r:.200}"
    return "ok", exprs[0]


def _new_interpreter() -> Any:
    from regopy import Interpreter, LogLevel

    interp = Interpreter()
    interp.log_level = LogLevel.NONE
    interp.strict_built_in_errors = True
    return interp


def _load_cached(interp: Any, bundle_path: str | None) -> Any:
    """The cached bundle at ``bundle_path``, or None (missing, unreadable or not ok)."""
    if not bundle_path or not os.path.isfile(bundle_path):
        return None
    from regopy import BundleFormat, RegoError

    try:
        bundle = interp.load_bundle(bundle_path, BundleFormat.Binary)
    except RegoError:
        return None
    return bundle if bundle.ok() else None


def _save_cached(interp: Any, bundle: Any, bundle_path: str) -> None:
    """Write the bundle atomically (best effort: no cache is not an error)."""
    from regopy import BundleFormat, RegoError

    try:
        os.makedirs(os.path.dirname(bundle_path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(bundle_path), suffix=".tmp")
        os.close(fd)
        interp.save_bundle(tmp, bundle, BundleFormat.Binary)
        os.replace(tmp, bundle_path)
    except (OSError, RegoError):
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def _worker_main(
    conn: Connection,
    modules: list[tuple[str, str]],
    mode: str,
    entrypoints: list[str],
    data: str | None = None,
    bundle_path: str | None = None,
) -> None:
    """Compile (or load the cached bundle), report readiness, then answer batches until told to stop."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # rego-cpp may print diagnostics on stdout; stdout belongs to the CLI

    interp = _new_interpreter()
    bundle = _load_cached(interp, bundle_path) if mode == "eval" else None
    compiled, bundle = _compile(conn, interp, bundle, modules, mode, entrypoints, data, bundle_path)
    if not compiled:
        return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        for idx, payload in msg[1]:
            _answer(conn, interp, bundle, mode, idx, payload)


def _compile(
    conn: Connection, interp: Any, bundle: Any, modules: list[tuple[str, str]], mode: str, entrypoints: list[str],
    data: str | None, bundle_path: str | None,
) -> tuple[bool, Any]:
    """Add the modules and data and build the bundle, unless a cached one was loaded; a failure is sent to govops."""
    from regopy import RegoError
    from regopy import rego_shared as rs

    try:
        if bundle is None:
            for name, source in modules:
                interp.add_module(name, source)
            if data is not None:
                interp.add_data_json(data)
            if mode in ("eval", "entrypoints"):
                bundle = interp.build(ENTRYPOINT if mode == "eval" else None, entrypoints)
                if not bundle.ok():
                    detail = _error_text(rs.rego_bundle_node(bundle._impl))
                    conn.send(("compile_error", f"the policy bundle did not build: {detail}"))
                    return False, bundle
                if bundle_path:
                    _save_cached(interp, bundle, bundle_path)
    except RegoError as exc:
        conn.send(("compile_error", str(exc)))
        return False, bundle
    return True, bundle


def _answer(conn: Connection, interp: Any, bundle: Any, mode: str, idx: int, payload: str) -> None:
    """Evaluate one input and send its value or its error (the parent fails closed on an error)."""
    from regopy import RegoError
    from regopy import rego_shared as rs

    try:
        if mode == "eval":
            set_input(interp, payload)
            impl = rs.rego_bundle_query(interp._impl, bundle._impl)
        else:
            request = json.loads(payload)
            set_input(interp, json.dumps(request.get("input") or {}))
            impl = rs.rego_bundle_query_entrypoint(interp._impl, bundle._impl, request["entrypoint"])
        ok, text = _read_output(impl)
        if ok:
            kind, value = _value(text)
            conn.send((kind, idx, value))
        else:
            conn.send(("error", idx, text))
    except RegoError as exc:
        conn.send(("error", idx, "; ".join(p.message for p in parse_errors(str(exc)))))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails closed
        conn.send(("error", idx, f"{type(exc).__name__}: {exc}"))


# ---------------------------------------------------------------- in govops


@dataclass
class _Worker:
    proc: Any
    conn: Connection
    pending: deque[int] = field(default_factory=deque)
    last_progress: float = 0.0


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class RegopyPool:
    """Worker processes holding one compiled library each; kills a worker whose query overruns."""

    def __init__(
        self,
        library: PolicyLibrary,
        *,
        mode: str,
        timeout_s: float,
        jobs: int | None,
        entrypoints: list[str] | None = None,
        data: str | None = None,
        bundle_path: Path | None = None,
    ) -> None:
        self.library = library
        self.mode = mode
        self.entrypoints = list(entrypoints or [])
        self.timeout_s = timeout_s
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.modules = sorted({**library.modules, **library.tests}.items())
        self.data = data
        self.bundle_path = bundle_path
        self.workers: list[_Worker] = []
        self.starting: list[_Worker] = []

    def _spawn(self) -> _Worker:
        ctx = _context()
        parent, child = ctx.Pipe()
        bundle = str(self.bundle_path) if self.bundle_path is not None else None
        proc = ctx.Process(
            target=_worker_main,
            args=(child, self.modules, self.mode, self.entrypoints, self.data, bundle),
            daemon=True,
        )
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def prestart(self, count: int = 1) -> None:
        """Start up to ``count`` workers without waiting for them (they compile in the background)."""
        while len(self.workers) + len(self.starting) < min(count, self.jobs):
            self.starting.append(self._spawn())

    def _await(self, worker: _Worker, *, retry: bool = True) -> None:
        ready = worker.conn.poll(max(self.timeout_s, 30.0))
        try:
            msg = worker.conn.recv() if ready else ("timeout", None)
        except (EOFError, OSError):
            msg = ("crashed", None)
        if msg[0] == "ready":
            self.workers.append(worker)
            return
        self._kill(worker)
        if msg[0] == "crashed" and retry and self.bundle_path is not None and self.bundle_path.exists():
            # a cached bundle that crashes the loader is dropped; compile from the sources instead
            try:
                self.bundle_path.unlink()
            except OSError:
                pass
            self.bundle_path = None
            self._await(self._spawn(), retry=False)
            return
        if msg[0] == "compile_error":
            raise self._compile_error(str(msg[1]))
        raise PolicyError(f"the regopy policy worker could not start ({msg[0]})")

    def _compile_error(self, text: str) -> PolicyError:
        problems = parse_errors(text)
        first = problems[0]
        extra = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        sources = dict(self.modules)
        if first.module and first.module in sources and first.offset is not None:
            line, col = line_col(sources[first.module], first.offset)
            return PolicyError(
                f"policy does not compile: {first.message}{extra}",
                file=self.library.display(first.module),
                line=line,
                col=col,
            )
        return PolicyError(f"policy does not compile: {first.message}{extra}", file=self.library.directory)

    def _kill(self, worker: _Worker) -> None:
        try:
            worker.proc.kill()
            worker.proc.join(timeout=5)
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass
        worker.conn.close()

    def ensure(self, count: int) -> None:
        """At least ``count`` workers running (started together; the first one proves the library compiles)."""
        self.prestart(count)
        try:
            while self.starting:
                self._await(self.starting.pop(0))
        except BaseException:
            for w in self.starting:
                self._kill(w)
            self.starting = []
            raise

    def close(self) -> None:
        """Stop every worker."""
        for w in self.starting:
            self._kill(w)
        self.starting = []
        for w in self.workers:
            try:
                w.conn.send(("stop",))
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=2)
            w.conn.close()
        self.workers = []

    def run(self, items: Sequence[tuple[str, str]]) -> list[Any]:
        """Answers for ``(label, payload)`` items, in order; raises ``PolicyError`` on the first failure."""
        n = len(items)
        if n == 0:
            return []
        want = min(self.jobs, max(1, math.ceil(n / MIN_PER_WORKER)))
        self.ensure(want)
        workers = self.workers[:want]
        size = max(1, min(MAX_CHUNK, math.ceil(n / (want * 4))))
        chunks: deque[list[int]] = deque(list(range(i, min(n, i + size))) for i in range(0, n, size))
        results: list[Any] = [None] * n
        done = 0
        try:
            for w in workers:
                self._feed(w, chunks, items)
            while done < n:
                busy = [w for w in workers if w.pending]
                now = time.monotonic()
                deadline = min(w.last_progress + self.timeout_s for w in busy)
                ready = wait([w.conn for w in busy], timeout=max(0.0, deadline - now))
                if not ready:
                    late = next(w for w in busy if time.monotonic() - w.last_progress >= self.timeout_s)
                    label = items[late.pending[0]][0]
                    raise PolicyError(
                        f"policy evaluation for {label} did not finish within {self.timeout_s:g}s and was "
                        "stopped (a rule that loops over a huge range?); fix the policy or raise "
                        "GOVOPS_POLICY_TIMEOUT_S"
                    )
                for conn in ready:
                    w = next(x for x in busy if x.conn is conn)
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        label = items[w.pending[0]][0]
                        w.proc.join(timeout=2)
                        raise PolicyError(
                            f"the regopy worker died while evaluating {label} (exit code {w.proc.exitcode})"
                        ) from None
                    kind, idx, value = msg
                    if kind != "ok":
                        what = "is undefined" if kind == "undefined" else f"failed: {value}"
                        subject = f"{ENTRYPOINT} for {items[idx][0]}" if self.mode == "eval" else items[idx][0]
                        raise PolicyError(f"{subject} {what}")
                    results[idx] = value
                    done += 1
                    w.pending.popleft()
                    w.last_progress = time.monotonic()
                    if not w.pending:
                        self._feed(w, chunks, items)
        except BaseException:
            for w in self.workers:
                self._kill(w)
            self.workers = []
            raise
        return results

    def _feed(self, w: _Worker, chunks: deque[list[int]], items: Sequence[tuple[str, str]]) -> None:
        if not chunks:
            return
        chunk = chunks.popleft()
        w.conn.send(("batch", [(i, items[i][1]) for i in chunk]))
        w.pending.extend(chunk)
        w.last_progress = time.monotonic()


def _regopy_build_id() -> str:
    """Identifies the installed rego-cpp build (size and mtime of the shared library) without importing it."""
    spec = importlib.util.find_spec("regopy")
    if spec is None or spec.origin is None:
        return "regopy-missing"
    lib = Path(spec.origin).parent / "librego_shared.so"
    try:
        st = lib.stat()
    except OSError:
        return "regopy-unknown"
    return f"{st.st_size}-{st.st_mtime_ns}"


def bundle_cache_path(library: PolicyLibrary, data: str | None) -> Path:
    """Where the compiled bundle of ``library`` with run ``data`` is cached (keyed by both and the regopy build)."""
    h = hashlib.sha256(library.digest.encode())
    h.update(b"\0")
    h.update((data or "").encode())
    h.update(b"\0")
    h.update(_regopy_build_id().encode())
    return cache_dir(CACHE_KIND, root=library.root) / f"bundle-{h.hexdigest()[:32]}.rbb"


class RegopyBackend:
    """``regopy``: the embedded default; nothing needs to run. Takes compact inputs after ``load(run=...)``."""

    name = "regopy"
    accepts_compact = True

    def __init__(self, *, timeout_s: float = 10.0, jobs: int | None = None, bundle_cache: bool = False) -> None:
        self.timeout_s = timeout_s
        self.jobs = jobs
        self.bundle_cache = bundle_cache
        self.pool: RegopyPool | None = None

    def load(self, library: PolicyLibrary, run: dict[str, Any] | None = None, *, wait: bool = True) -> None:
        """Compile the library (with ``run`` as ``data.govops_run``) in a first worker.

        With ``wait=False`` the worker compiles in the background and a compile error
        surfaces at ``evaluate_many``; otherwise here, with the Rego file:line.
        """
        self.close()
        lib = PolicyLibrary(library.root, library.directory, library.modules)
        data = data_json({RUN_DATA_ROOT: run}) if run is not None else None
        path = bundle_cache_path(lib, data) if self.bundle_cache else None
        self.pool = RegopyPool(lib, mode="eval", timeout_s=self.timeout_s, jobs=self.jobs, data=data, bundle_path=path)
        if wait:
            self.pool.ensure(1)
        else:
            self.pool.prestart(1)

    def evaluate_many(self, inputs: Sequence[tuple[str, str]]) -> list[Decision]:
        """One bundle query per input (full or compact), spread over the workers."""
        if self.pool is None:
            raise PolicyError("regopy backend used before load()")
        for model, text in inputs:
            refuse_inexact(model, text)
        raw = self.pool.run(inputs)
        return [check_result(r, f"regopy, {model}") for r, (model, _) in zip(raw, inputs, strict=True)]

    def close(self) -> None:
        """Stop the workers."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
