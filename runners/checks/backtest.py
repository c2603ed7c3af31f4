"""``backtest``: the primary metric on consecutive time windows of the evaluation data.

Needs ``validation.timeColumn``. The evaluation rows are ordered by time and cut into
``min_windows`` windows of equal row counts (4 when not set); the worst window is judged
against ``min_window_score`` and against the overall value (``max_window_degradation``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.spec.catalog_of_checks import BacktestThresholds
from engine.spec.check_result import Metric, describe, failed, judge
from engine.spec.errors import CheckError
from runners.base import Check, CheckContext, Outcome, register
from runners.checks._common import primary, score, subset_metrics

DEFAULT_WINDOWS = 4


@register
class Backtest(Check):
    """Worst time window vs threshold and vs overall."""

    name = "backtest"

    def run(self, ctx: CheckContext) -> Outcome:
        """Cut the evaluation data into time windows and score each."""
        t = ctx.thresholds
        assert isinstance(t, BacktestThresholds)
        tc = ctx.validation().time_column
        if not tc:
            raise CheckError("the backtest check needs validation.timeColumn in the spec; none is declared")
        ev = ctx.evaluation()
        if tc not in ev.columns:
            raise CheckError(f"evaluation data has no time column '{tc}'")
        times = ev[tc] if pd.api.types.is_numeric_dtype(ev[tc]) else pd.to_datetime(ev[tc], errors="coerce", utc=True)
        if times.isna().any():
            raise CheckError(f"evaluation data: {int(times.isna().sum())} value(s) of '{tc}' are not timestamps")
        order = np.argsort(times.to_numpy(), kind="stable")
        wanted = max(2, int(t.min_windows) if t.min_windows is not None else DEFAULT_WINDOWS)
        if len(ev) < 2 * wanted:
            raise CheckError(f"{len(ev)} evaluation rows cannot make {wanted} windows of at least 2 rows")
        model = ctx.candidate()
        s = score(ctx, model, ev, "evaluation data")
        main = primary(ctx)
        overall = s.metrics[main]
        metrics: list[Metric] = []
        windows = []
        for i, idx in enumerate(np.array_split(order, wanted)):
            mask = np.zeros(len(ev), dtype=bool)
            mask[idx] = True
            value = subset_metrics(ctx, s, mask, model)[main]
            start, end = times.iloc[idx].min(), times.iloc[idx].max()
            windows.append({"window": i, "rows": int(mask.sum()), "start": str(start), "end": str(end), main: value})
            metrics.append(Metric(main, value, scope=f"window {i}: {start} .. {end}", gate=False))
        scored = [w for w in windows if w[main] is not None]
        metrics.append(judge("min_windows", float(len(scored)), t.min_windows, metric="windows"))
        if not scored or overall is None:
            raise CheckError(f"{main} is undefined in every window")
        worst = min(scored, key=lambda w: w[main])  # type: ignore[arg-type, return-value]
        value = float(worst[main])  # type: ignore[arg-type]
        metrics.append(judge("min_window_score", value, t.min_window_score, metric="window_score",
                             scope=f"window {worst['window']}"))
        metrics.append(judge("max_window_degradation", overall - value, t.max_window_degradation,
                             metric="window_degradation", scope=f"window {worst['window']}"))
        bad = failed(metrics)
        return Outcome(
            metrics,
            f"worst of {len(scored)} time windows: {main} {value:.4f} vs {overall:.4f} overall"
            + (f" ({'; '.join(describe(m) for m in bad)})" if bad else ""),
            {"metric": main, "overall": overall, "windows": windows},
        )
