"""Business KPIs: the spec's ``monitoring.thresholds.kpis[]`` evaluated on the window's served rows."""

from __future__ import annotations

from engine.monitoring import kpi
from engine.monitoring.kinds.base import KindContext
from engine.monitoring.measure import Measured


def measure(ctx: KindContext) -> list[Measured]:
    """Every declared KPI, judged against its min/max (an invalid expression raises ``KpiError``)."""
    out: list[Measured] = []
    ok = ctx.window.column("status") == "ok" if ctx.window.has("status") else None
    for k in ctx.thresholds.kpis:
        if ctx.window.rows == 0:
            value = None
        else:
            def column(name: str) -> object:
                col = ctx.window.column(name)
                return col[ok] if ok is not None else col

            rows = int(ok.sum()) if ok is not None else ctx.window.rows
            value = kpi.evaluate(k.expression, column, rows)  # type: ignore[arg-type]
        if ctx.window.rows == 0:  # an empty window is not judged; a KPI undefined on served rows fails closed
            out.append(Measured("kpi", k.name, None, k.min, k.max, note="no served rows in this window",
                                not_judged="no served rows in this window"))
        else:
            out.append(Measured("kpi", k.name, value, k.min, k.max, note=None if value is not None else
                                f"could not be computed: {k.expression} is undefined on this window"))
    return out
