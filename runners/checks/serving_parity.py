"""``serving_parity``: the MLServer-served artifact predicts exactly what the offline model predicts.

Starts a real MLServer (``engine.mlserver.process.MLServerProcess``) on free ports with
the *verified* artifact bytes copied into a temporary model repository, sends the
evaluation rows over the Open Inference Protocol (REST) and compares with the offline
predictions (``predict``, and ``predict_proba`` for classifiers). The server is always
stopped; nothing outside the temporary folder is written.

MLServer loads the pull request's artifact itself (``joblib.load`` runs its ``__reduce__``), so
it is confined like a prediction worker before it loads anything: the workers' allow-listed
environment (``runners.model_worker.worker_env``), and the ``--exec-confined`` launcher of
``runners.model_worker`` (Landlock: writes only in its work folder, TCP bind on its own three
ports and no TCP connect, no ptrace or signals outside; capabilities dropped or an unprivileged
uid; a PID namespace when root; a supervisor that kills every process below it). The parent
checks from outside that every server process is confined as planned, and after stopping it
that none survives (a survivor is killed and makes the check an error). Where neither Landlock
nor a uid switch is available the result says "MLServer ran UNCONFINED", and
``GOVOPS_MODEL_SANDBOX=require`` refuses to start it. This check never starts MLServer
unconfined when the machine can confine it, and never confines the rollout's servers.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.spec.catalog_of_checks import ServingParityThresholds
from engine.spec.check_result import Metric, judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, register
from runners.data import fetch

MAX_ROWS = 1000


def _needs() -> tuple[str, ...]:
    """What an unprivileged user must reach to run MLServer: its script and its package."""
    import importlib.util

    from engine.mlserver.process import mlserver_executable

    spec = importlib.util.find_spec("mlserver")
    package = os.path.dirname(spec.origin) if spec is not None and spec.origin else ""
    return tuple(p for p in (mlserver_executable(), package) if p)


def _sandboxed(base: type[Any], plan: dict[str, Any]) -> type[Any]:
    """``MLServerProcess`` whose server is confined like a prediction worker.

    Its environment is the workers' allow-list plus ``MLSERVER_*``; its command is the
    ``runners.model_worker --exec-confined`` launcher: Landlock (writes only in its work
    folder, TCP bind on its three ports and no connect), capabilities dropped or an unprivileged
    uid, a PID namespace when root, and a supervisor that kills every process below it.
    """
    from runners.model_worker import confined_command, inspect_sandbox, sandbox_survivors, worker_env

    class Sandboxed(base):
        seen: dict[int, int]
        namespace: str | None = None

        def _env(self, work: Path) -> dict[str, str]:
            full: dict[str, str] = super()._env(work)
            env = worker_env(os.environ, work)
            env.update({k: v for k, v in full.items() if k.startswith("MLSERVER_") or k == "PYTHONUNBUFFERED"})
            return env

        def command(self, work: Path) -> list[str]:
            self.seen = {}
            ports = (self.http_port, self.grpc_port, self.metrics_port)
            return confined_command(super().command(work), work, plan, tcp_ports=ports)

        def inspect(self) -> list[str]:
            """Check from outside that every server process is confined as planned; remember them."""
            if self.pid is None:
                return []
            seen = inspect_sandbox(self.pid, plan)
            self.seen.update(seen["pids"])
            self.namespace = self.namespace or seen["namespace"]
            return list(seen["problems"])

        def _kill(self) -> None:
            """Stop the server (after a failed start too), then find and kill whatever outlived it."""
            supervisor = self.pid
            if supervisor is not None:
                self.inspect()  # the latest processes, before they are killed
            super()._kill()
            if supervisor is not None:
                self.survivors = [*getattr(self, "survivors", []),
                                  *sandbox_survivors(supervisor, self.seen, self.namespace)]

    return Sandboxed


def _unconfined(plan: dict[str, Any]) -> bool:
    """Whether the server could write what govops writes and read its processes' environments."""
    uid = plan.get("uid")
    return not plan.get("landlock") and not (isinstance(uid, int) and hasattr(os, "getuid") and uid != os.getuid())


def _share(tmp: Path, plan: dict[str, Any]) -> None:
    """Hand the temporary folder to the server's unprivileged user (it must read the model and write its work)."""
    user = plan.get("user")
    if not user:
        return
    for folder, dirs, files in os.walk(tmp):
        for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
            os.chown(name, user[0], user[1])


@register
class ServingParity(Check):
    """Largest absolute difference between served and offline outputs."""

    name = "serving_parity"

    def run(self, ctx: CheckContext) -> Outcome:
        """Serve the candidate with MLServer and compare its answers with the offline model's."""
        t = ctx.thresholds
        assert isinstance(t, ServingParityThresholds)
        from engine.mlserver.process import MLServerProcess  # a broken import is a bug, not a check error
        from engine.mlserver.settings import mlserver_name, model_settings

        version = ctx.spec.version(ctx.version)
        if version is None:
            raise CheckError(f"{ctx.spec.id} has no version '{ctx.version}'")
        if (version.artifact.format or "") == "skops" or version.artifact.uri.lower().endswith(".skops"):
            raise CheckError(f"{ctx.spec.id} {ctx.version} is a skops artifact, which MLServer's scikit-learn "
                             "runtime cannot load (it loads joblib); serving parity cannot be checked")
        model = ctx.candidate()  # verifies the digest and records the input
        ev = ctx.evaluation()
        x = ctx.x(ev, "evaluation data")[:MAX_ROWS]
        offline = {"predict": ctx.predict(model, x).astype(float)}
        proba = ctx.predict_proba(model, x)
        if proba is not None:
            offline["predict_proba"] = proba.astype(float)
        name = mlserver_name(ctx.spec.id)
        served: dict[str, np.ndarray] = {}
        from engine.spec.settings import get_settings
        from runners.model_worker import SANDBOX_ENV, sandbox_plan

        plan = sandbox_plan(_needs())
        unconfined = _unconfined(plan)
        if unconfined and get_settings().model_sandbox == "require":
            raise CheckError(f"{SANDBOX_ENV}=require, but MLServer could not be confined here (no Landlock and no "
                             f"unprivileged user to switch to); refusing to serve {ctx.spec.id} {ctx.version}")
        with tempfile.TemporaryDirectory(prefix="govops-parity-") as tmp:
            folder = Path(tmp) / "repo" / name / ctx.version
            folder.mkdir(parents=True)
            verified = fetch(version.artifact, ctx.root, "candidate_model", require_digest=True)
            (folder / "model.joblib").write_bytes(verified.raw)
            settings = model_settings(name, ctx.version, str(folder / "model.joblib"), version.runtime)
            (folder / "model-settings.json").write_text(json.dumps(settings))
            (Path(tmp) / "work").mkdir()
            _share(Path(tmp), plan)
            server = _sandboxed(MLServerProcess, plan)(Path(tmp) / "repo", work_dir=Path(tmp) / "work")
            try:
                with server:
                    problems = server.inspect()
                    if problems:
                        raise CheckError(f"MLServer serving {ctx.spec.id} {ctx.version} is not confined as "
                                         f"planned: {'; '.join(problems[:5])}")
                    for output in offline:
                        served[output] = np.asarray(
                            server.infer(name, ctx.version, x, output=output), dtype=float
                        ).reshape(offline[output].shape)
            except CheckError:
                raise
            except Exception as exc:  # server start-up or protocol failure
                raise CheckError(f"MLServer could not serve {ctx.spec.id} {ctx.version}: "
                                 f"{type(exc).__name__}: {exc}") from exc
            finally:
                survivors = getattr(server, "survivors", [])
            if survivors:  # killed by now; the answers of a server that tried to outlive the check are void
                raise CheckError(f"{len(survivors)} process(es) started by MLServer serving {ctx.spec.id} "
                                 f"{ctx.version} outlived the server (pids {', '.join(map(str, survivors[:10]))}); "
                                 "they were killed and serving parity is not judged")
        metrics: list[Metric] = []
        diffs = {}
        for output, expected in offline.items():
            diffs[output] = float(np.max(np.abs(served[output] - expected))) if expected.size else 0.0
            metrics.append(Metric("abs_diff", diffs[output], scope=output, gate=False))
        worst = max(diffs, key=lambda k: diffs[k])
        limit = t.max_abs_diff if t.max_abs_diff is not None else 0.0
        metrics.append(judge("max_abs_diff", diffs[worst], limit, metric="abs_diff", scope=worst))
        verdict = "match" if metrics[-1].passed else "DIFFER from"
        note = "; MLServer ran UNCONFINED: no Landlock and no unprivileged user here" if unconfined else ""
        sandbox = {**plan, "confined": not unconfined}
        return Outcome(
            metrics,
            f"MLServer predictions {verdict} offline predictions on {len(x)} rows "
            f"(largest difference {diffs[worst]:.3g} in {worst}){note}",
            {"rows": len(x), "differences": diffs, "sandbox": sandbox},
        )
