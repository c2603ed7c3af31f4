"""Running one check: load the spec, build the context, call the check, turn anything into a result.

Validation stage. The same function runs under ``python -m runners`` (an Argo step) and
inside the local executor's worker processes. Whatever happens (bad input, a model that
raises, a bug in a check) the caller gets a :class:`CheckResult`; only the executor's
time limit can stop a check without one. This module never writes outside ``out``.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.spec.check_result import CheckResult, describe, failed, status_of
from engine.spec.errors import CheckError, GovopsError
from engine.spec.model import ModelSpec
from runners.base import CheckContext, get
from runners.data import DataLoader


def default_cache_dir(root: Path) -> Path | None:
    """``$GOVOPS_CACHE_DIR``, else the engine's default cache directory; never inside the checkout ``root``.

    A cache inside the repository could be committed by the pull request under review, so
    a cache directory there (or anywhere ``root`` contains) means no cache at all.
    """
    from engine.spec.settings import cache_root

    return _outside(root, cache_root())


def load_spec(root: Path, spec_file: str | Path) -> tuple[ModelSpec, Any]:
    """The spec in ``spec_file`` (relative to ``root`` or absolute) and the repository's govops.yaml, if any."""
    from engine.spec.diagnostics import has_errors
    from engine.spec.workspace import CONFIG_FILE, load_config, load_spec_file

    path = Path(spec_file)
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise CheckError(f"{spec_file}: no such spec file")
    config = None
    if (root / CONFIG_FILE).is_file():
        config, _, cdiags = load_config(root)
        if has_errors(cdiags):
            raise CheckError("govops.yaml is invalid: " + "; ".join(d.render() for d in cdiags[:3]))
    loaded, diags = load_spec_file(path, root, config)
    if loaded is None or has_errors(diags):
        raise CheckError("invalid spec: " + "; ".join(d.render() for d in diags if d.severity == "error")[:2000])
    return loaded.spec, config


def run_check(
    root: Path,
    check: str,
    *,
    spec: ModelSpec | None = None,
    spec_file: str | Path | None = None,
    model: str | None = None,
    version: str | None = None,
    champion: str | None = None,
    thresholds: dict[str, Any] | None = None,
    cache_dir: Path | None = None,
    options: dict[str, Any] | None = None,
) -> CheckResult:
    """Run one check and return its result (never raises for bad input or a failing model).

    ``thresholds`` default to the tier's defaults merged with the spec's overrides;
    ``version`` to the DAG's candidate; ``champion`` to the deployment's champion when it
    differs from the candidate.
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    result = CheckResult(check=check, model=model or "", version=version or "", status="error", summary="",
                         champion=champion, started=started)
    loader = DataLoader(root)
    try:
        config = None
        if spec is None:
            if spec_file is None:
                raise CheckError("no spec given")
            spec, config = load_spec(root, spec_file)
            loader.configure(config, spec_file)  # govops.yaml's read cap; refusals name the spec's file:line
        if model and model != spec.id:
            raise CheckError(f"the spec declares model '{spec.id}', not '{model}'")
        result.model = spec.id
        if version is None or (champion is None and thresholds is None):
            version, champion, defaults = _defaults(spec, config, check, version, champion)
            thresholds = defaults if thresholds is None else thresholds
        result.version, result.champion = version, champion
        cls = get(check)
        typed = cls.thresholds_type.from_mapping(thresholds or {})
        result.thresholds = typed.as_dict()
        ctx = CheckContext(root=root, spec=spec, version=version, champion_version=champion, thresholds=typed,
                           loader=loader, cache_dir=_outside(root, cache_dir) if cache_dir else default_cache_dir(root),
                           options=options or {})
        ctx._version(version)
        if champion is not None:
            ctx._version(champion)
        outcome = cls().run(ctx)
        result.metrics = outcome.metrics
        result.details = outcome.details
        result.summary = outcome.summary
        result.status = status_of(outcome.metrics)  # fails closed on a thresholded metric without a value
        unknown = [describe(m) for m in failed(outcome.metrics) if m.value is None]
        if unknown and not all(u in outcome.summary for u in unknown):
            result.summary = f"{outcome.summary}; failing closed: {'; '.join(unknown)}"
    except (CheckError, GovopsError) as exc:
        msg = exc.message if isinstance(exc, GovopsError) else str(exc)
        result.status, result.error, result.summary = "error", msg, f"{check} could not run: {msg}"
    except MemoryError:
        result.status, result.error = "error", "out of memory"
        result.summary = f"{check} ran out of memory"
    except Exception as exc:  # a bug in a check or a library: an error result, with the trace in details
        msg = f"{type(exc).__name__}: {exc}"
        result.status, result.error, result.summary = "error", msg, f"{check} failed unexpectedly: {msg}"
        result.details = {"traceback": traceback.format_exc(limit=8)}
    result.inputs = list(loader.inputs)
    loader.close()  # stop the prediction workers (runners.model_worker) this check started
    result.duration_s = round(time.perf_counter() - t0, 3)
    return result


def _outside(root: Path, cache_dir: Path) -> Path | None:
    """``cache_dir`` unless it lies inside the checkout (then no cache: never state from the tree under review)."""
    path, inside = cache_dir.resolve(), root.resolve()
    return None if path == inside or inside in path.parents else cache_dir


def _defaults(
    spec: ModelSpec, config: Any, check: str, version: str | None, champion: str | None
) -> tuple[str, str | None, dict[str, float]]:
    from engine.spec.thresholds import effective_checks

    dep = spec.spec.deployment
    if version is None:
        if dep and dep.challengers:
            version = dep.challengers[-1].version
        elif dep:
            version = dep.champion
        else:
            version = spec.spec.versions[-1].id
    if champion is None and dep and dep.champion != version:
        champion = dep.champion
    return version, champion, effective_checks(spec, config).get(check, {})

