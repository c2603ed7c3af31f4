"""Start, watch and stop one ``mlserver start DIR`` process on free local ports.

Serving stage. The process gets an isolated environment (inherited ``MLSERVER_*``
variables are dropped; ports, host, metrics and environments directories are set
explicitly), logs to a file, and is stopped with SIGTERM then SIGKILL on its whole
process group (MLServer forks inference workers). A port that is already taken is
refused with a clear error before anything starts. This module never decides which
models serve: it serves whatever ``repo_dir`` holds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import numpy as np

from engine.mlserver.client import MLServerClient, MLServerError
from engine.spec.errors import InputError

HOST = "127.0.0.1"
REPOSITORY_ROOT_ENV = "GOVOPS_MODEL_REPOSITORY_ROOT"


def startup_errors(log: str, limit: int = 3) -> list[str]:
    """The error lines of an MLServer log, earliest first.

    Those are logged ``ERROR`` messages and the final line of each traceback
    (``ModuleNotFoundError: No module named 'x'``).

    A shutdown's own noise (``asyncio.exceptions.CancelledError`` from uvicorn's lifespan)
    is left out: it is what stopping looks like, never why the server stopped.
    """
    found: list[str] = []
    in_traceback = False
    for line in log.splitlines():
        text = line.strip()
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback:
            if line[:1].isspace() or not text:
                continue
            in_traceback = False
            if "CancelledError" not in text:
                found.append(text)
            continue
        if " ERROR - " in line:
            found.append(text.split(" ERROR - ", 1)[1])
        elif line.startswith("ERROR:") and "Traceback" not in line:
            found.append(text.removeprefix("ERROR:").strip())
        elif line.startswith("ERROR:"):
            in_traceback = True
    unique = list(dict.fromkeys(f for f in found if f))
    return unique[:limit]


class PortInUseError(InputError):
    """A port asked for is already in use (exit 2: choose another port or stop the other process)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether binding ``127.0.0.1:port`` fails because something holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def mlserver_executable() -> str:
    """The ``mlserver`` script beside this interpreter (the project's virtualenv), else on PATH."""
    beside = Path(sys.executable).parent / "mlserver"
    if beside.exists():
        return str(beside)
    found = shutil.which("mlserver")
    if not found:
        raise MLServerError("the mlserver command is not installed (pip install mlserver mlserver-sklearn)")
    return found


def is_mlserver_pid(pid: int) -> bool:
    """Whether ``pid`` is alive and runs MLServer (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"mlserver" in cmdline


def stop_pid(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM the process group of ``pid``, then SIGKILL it after ``timeout_s``; True if it was running."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    return True


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead; our own children are reaped)."""
    try:
        # reap if it is our child
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return True
    return state != "Z"


class MLServerProcess:
    """``mlserver start repo_dir`` as a context manager, on free ports unless given.

    ``detach=True`` starts it in its own session and leaves it running when the
    object goes away (``govops serve``); otherwise leaving the ``with`` block stops it.
    """

    def __init__(
        self,
        repo_dir: Path,
        *,
        http_port: int | None = None,
        grpc_port: int | None = None,
        metrics_port: int | None = None,
        load_models_at_startup: bool = True,
        parallel_workers: int = 0,
        log_file: Path | None = None,
        work_dir: Path | None = None,
        startup_timeout_s: float = 120.0,
        detach: bool = False,
        repository_implementation: str | None = None,
    ) -> None:
        self.repo_dir = Path(repo_dir).resolve()
        self.load_models_at_startup = load_models_at_startup
        self.parallel_workers = parallel_workers
        self.startup_timeout_s = startup_timeout_s
        self.detach = detach
        self.repository_implementation = repository_implementation
        self._requested = {"http": http_port, "grpc": grpc_port, "metrics": metrics_port}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_offset = 0
        self._work_dir = work_dir
        self._start_dir: Path | None = None
        self.log_file = log_file
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._client: MLServerClient | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the REST API, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.http_port}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.proc.pid if self.proc else None

    @property
    def client(self) -> MLServerClient:
        """The REST client of this server."""
        if self._client is None:
            self._client = MLServerClient(self.url)
        return self._client

    def _ports(self) -> None:
        for kind, port in self._requested.items():
            if port is not None and port_in_use(port):
                raise PortInUseError(
                    f"{kind} port {port} on {HOST} is already in use by another process; "
                    "stop that process or choose another port"
                )
        chosen: set[int] = {p for p in self._requested.values() if p is not None}
        out: dict[str, int] = {}
        for kind, port in self._requested.items():
            if port is None:
                port = free_port()
                while port in chosen:
                    port = free_port()
            chosen.add(port)
            out[kind] = port
        self.http_port, self.grpc_port, self.metrics_port = out["http"], out["grpc"], out["metrics"]

    def _env(self, work: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MLSERVER")}
        env.update(
            {
                "MLSERVER_HOST": HOST,
                "MLSERVER_HTTP_PORT": str(self.http_port),
                "MLSERVER_GRPC_PORT": str(self.grpc_port),
                "MLSERVER_METRICS_PORT": str(self.metrics_port),
                "MLSERVER_LOAD_MODELS_AT_STARTUP": "true" if self.load_models_at_startup else "false",
                "MLSERVER_PARALLEL_WORKERS": str(self.parallel_workers),
                "MLSERVER_METRICS_DIR": str(work / "metrics"),
                "MLSERVER_ENVIRONMENTS_DIR": str(work / "envs"),
                "MLSERVER_DEBUG": "false",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.repository_implementation:
            env["MLSERVER_MODEL_REPOSITORY_IMPLEMENTATION"] = self.repository_implementation
            env[REPOSITORY_ROOT_ENV] = str(self.repo_dir.resolve())  # read by NameFolderRepository
        return env

    def start_dir(self, work: Path) -> Path:
        """Where the server starts: ``mlserver start DIR`` puts DIR and its cwd first on ``sys.path``.

        With govops' repository implementation (which takes its root from
        ``GOVOPS_MODEL_REPOSITORY_ROOT``) that is a fresh empty directory, so a module or a
        ``settings.json`` dropped in the model repository or the work directory is never
        imported or read; otherwise the work directory, as MLServer needs the repository.
        """
        if not self.repository_implementation:
            return work
        if self._start_dir is None:
            self._start_dir = Path(tempfile.mkdtemp(prefix="govops-mlserver-start-"))
        return self._start_dir

    def command(self, work: Path) -> list[str]:
        """The argv that starts the server (ports are chosen by now).

        A hook: ``serving_parity`` wraps it in a sandbox launcher because it serves a pull
        request's artifact. The rollout's servers run it as is.
        """
        if self.repository_implementation:
            return [mlserver_executable(), "start", str(self.start_dir(work))]
        return [mlserver_executable(), "start", str(self.repo_dir)]

    def start(self) -> MLServerProcess:
        """Start the server and wait until ``/v2/health/ready`` answers; raise with the log tail if not."""
        if not self.repo_dir.is_dir():
            raise InputError(f"model repository {self.repo_dir} does not exist")
        if self._work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="govops-mlserver-")
            self._work_dir = Path(self._tmp.name)
        work = self._work_dir
        work.mkdir(parents=True, exist_ok=True)
        (work / "metrics").mkdir(exist_ok=True)
        if self.log_file is None:
            self.log_file = work / "mlserver.log"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            self._ports()
            with open(self.log_file, "ab") as log:
                self._log_offset = log.tell()
                self.proc = subprocess.Popen(
                    self.command(work),
                    cwd=self.start_dir(work),
                    env=self._env(work),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            try:
                self._wait_ready()
                return self
            except MLServerError as exc:
                taken = "address already in use" in self.attempt_log().lower()
                self._kill()
                if taken and all(p is None for p in self._requested.values()) and attempt < 2:
                    continue  # a free port was grabbed by someone else between bind and start: retry
                if taken:
                    raise PortInUseError(
                        f"MLServer could not bind its ports ({self.http_port}, {self.grpc_port}, "
                        f"{self.metrics_port}): address already in use"
                    ) from exc
                raise
        raise MLServerError("MLServer did not start")  # pragma: no cover

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise MLServerError(self._startup_failure(f"MLServer exited with code {code} while starting"))
            if self.client.server_ready() and self._models_loaded():
                return
            time.sleep(0.1)
        raise MLServerError(self._startup_failure(f"MLServer was not ready after {self.startup_timeout_s:.0f}s"))

    def _startup_failure(self, what: str) -> str:
        """``what``, then the errors this start logged (the cause), then the log's tail.

        The cause comes first because MLServer keeps logging while it shuts down: by the
        time it has exited, the line that says why is often more than a tail away.
        """
        errors = startup_errors(self.attempt_log())
        cause = "".join(f"\n  {line}" for line in errors)
        return f"{what}{':' if cause else ''}{cause}\nlog {self.log_file}:\n{self.log_tail()}"

    def attempt_log(self) -> str:
        """What the server logged since the latest start attempt (the log file is appended to)."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        with open(self.log_file, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def _models_loaded(self) -> bool:
        """At start-up, ``/v2/health/ready`` can answer before the models load: also wait for the index."""
        if not self.load_models_at_startup:
            return True
        expected = len(list(self.repo_dir.glob("**/model-settings.json")))
        if expected == 0:
            return True
        try:
            index = self.client.index()
        except MLServerError:
            return False
        return sum(1 for m in index if m.get("state") == "READY") >= expected

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log."""
        if self.log_file is None or not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.proc is not None and self.proc.poll() is None

    def _kill(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)

    def stop(self) -> None:
        """SIGTERM then SIGKILL the server's process group; remove its temporary directory."""
        self._kill()
        self.proc = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> MLServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.detach:
            self.stop()

    # -- the REST API, for convenience ---------------------------------------------------------
    def is_ready(self, name: str, version: str) -> bool:
        """Whether ``name`` at ``version`` is loaded and ready."""
        return self.client.is_ready(name, version)

    def infer(self, name: str, version: str, rows: np.ndarray, output: str | None = None) -> np.ndarray:
        """Predictions of one version (Open Inference Protocol V2 REST, FP64 input ``input-0``)."""
        return self.client.infer(name, version, rows, output)

    def load(self, name: str) -> None:
        """Load (or reload) every version of ``name`` in the repository (repository API)."""
        self.client.load(name)

    def unload(self, name: str) -> None:
        """Unload every version of ``name`` (repository API)."""
        self.client.unload(name)
