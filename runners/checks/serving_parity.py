"""``serving_parity``: the MLServer-served artifact predicts exactly what the offline model predicts.

Starts a real MLServer (``engine.mlserver.process.MLServerProcess``) on free ports with
the *verified* artifact bytes copied into a temporary model repository, sends the
evaluation rows over the Open Inference Protocol (REST) and compares with the offline
predictions (``predict``, and ``predict_proba`` for classifiers). The server is always
stopped; nothing outside the temporary folder is written. MLServer loads the artifact itself,
so it gets the prediction workers' allow-listed environment (``runners.model_worker.worker_env``:
no tokens, no ``GOVOPS_*`` settings, no cloud credentials) and its own home folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from runners.base import Check, CheckContext, Outcome, register
from runners.data import CheckError, fetch
from runners.result import Metric, judge
from runners.thresholds import ServingParityThresholds

MAX_ROWS = 1000


def _scrubbed(base: type[Any]) -> type[Any]:
    """``MLServerProcess`` whose server starts with the prediction workers' environment only."""
    from runners.model_worker import worker_env

    class Scrubbed(base):
        def _env(self, work: Path) -> dict[str, str]:
            full: dict[str, str] = super()._env(work)
            env = worker_env(os.environ, work)
            env.update({k: v for k, v in full.items() if k.startswith("MLSERVER_") or k == "PYTHONUNBUFFERED"})
            return env

    return Scrubbed


@register
class ServingParity(Check):
    """Largest absolute difference between served and offline outputs."""

    name = "serving_parity"

    def run(self, ctx: CheckContext) -> Outcome:
        """Serve the candidate with MLServer and compare its answers with the offline model's."""
        t = ctx.thresholds
        assert isinstance(t, ServingParityThresholds)
        try:
            from engine.mlserver.process import MLServerProcess
            from engine.mlserver.settings import mlserver_name, model_settings
        except ImportError as exc:
            raise CheckError(f"serving parity needs engine.mlserver.process, which is not available: {exc}") from exc
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
        with tempfile.TemporaryDirectory(prefix="govops-parity-") as tmp:
            folder = Path(tmp) / name / ctx.version
            folder.mkdir(parents=True)
            verified = fetch(version.artifact, ctx.root, "candidate_model", require_digest=True)
            (folder / "model.joblib").write_bytes(verified.raw)
            settings = model_settings(name, ctx.version, str(folder / "model.joblib"), version.runtime)
            (folder / "model-settings.json").write_text(json.dumps(settings))
            try:
                with _scrubbed(MLServerProcess)(Path(tmp)) as server:
                    for output in offline:
                        served[output] = np.asarray(
                            server.infer(name, ctx.version, x, output=output), dtype=float
                        ).reshape(offline[output].shape)
            except CheckError:
                raise
            except Exception as exc:  # server start-up or protocol failure
                raise CheckError(f"MLServer could not serve {ctx.spec.id} {ctx.version}: "
                                 f"{type(exc).__name__}: {exc}") from exc
        metrics: list[Metric] = []
        diffs = {}
        for output, expected in offline.items():
            diffs[output] = float(np.max(np.abs(served[output] - expected))) if expected.size else 0.0
            metrics.append(Metric("abs_diff", diffs[output], scope=output, gate=False))
        worst = max(diffs, key=lambda k: diffs[k])
        limit = t.max_abs_diff if t.max_abs_diff is not None else 0.0
        metrics.append(judge("max_abs_diff", diffs[worst], limit, metric="abs_diff", scope=worst))
        verdict = "match" if metrics[-1].passed else "DIFFER from"
        return Outcome(
            metrics,
            f"MLServer predictions {verdict} offline predictions on {len(x)} rows "
            f"(largest difference {diffs[worst]:.3g} in {worst})",
            {"rows": len(x), "differences": diffs},
        )
