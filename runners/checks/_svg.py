"""Small inline SVG charts for check results: horizontal bars and a line, no JavaScript, no fonts fetched.

Validation stage, output side. A check stores these strings in its result's ``details``
so the evidence shows what it measured without any viewer; model cards embed them as
they are. Every text that comes from data (feature names, slice labels) is escaped here:
a feature name is spec text, and a pull request writes the spec.
"""

from __future__ import annotations

from html import escape

WIDTH = 560
BAR_H = 18
PAD_LEFT = 170
PAD_RIGHT = 70


def _num(v: float) -> str:
    return f"{v:.4g}"


def bars(title: str, rows: list[tuple[str, float]], *, secondary: list[float] | None = None,
         legend: tuple[str, str] = ("candidate", "champion")) -> str:
    """Horizontal bars, one per ``(label, value)``; ``secondary`` draws a thin second bar (the champion)."""
    n = max(len(rows), 1)
    height = 30 + n * (BAR_H + 6) + (18 if secondary is not None else 0)
    values = [v for _, v in rows] + list(secondary or [])
    top = max([abs(v) for v in values] + [1e-12])
    scale = (WIDTH - PAD_LEFT - PAD_RIGHT) / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f'<text x="4" y="16" font-size="13" font-family="sans-serif">{escape(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 26 + i * (BAR_H + 6)
        w = max(abs(value) * scale, 0.5)
        x = PAD_LEFT if value >= 0 else PAD_LEFT - w
        out.append(f'<text x="{PAD_LEFT - 6}" y="{y + 13}" font-size="11" text-anchor="end" '
                   f'font-family="sans-serif">{escape(label[:28])}</text>')
        out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H - 6 if secondary else BAR_H}" '
                   'fill="#3b6ea5"/>')
        if secondary is not None and i < len(secondary):
            w2 = max(abs(secondary[i]) * scale, 0.5)
            x2 = PAD_LEFT if secondary[i] >= 0 else PAD_LEFT - w2
            out.append(f'<rect x="{x2:.1f}" y="{y + BAR_H - 5}" width="{w2:.1f}" height="5" fill="#d08a2e"/>')
        out.append(f'<text x="{PAD_LEFT + max(value, 0) * scale + 4:.1f}" y="{y + 13}" font-size="11" '
                   f'font-family="sans-serif">{_num(value)}</text>')
    if secondary is not None:
        y = height - 6
        out.append(f'<rect x="{PAD_LEFT}" y="{y - 9}" width="10" height="9" fill="#3b6ea5"/>'
                   f'<text x="{PAD_LEFT + 14}" y="{y}" font-size="11" font-family="sans-serif">{escape(legend[0])}'
                   f'</text><rect x="{PAD_LEFT + 110}" y="{y - 9}" width="10" height="9" fill="#d08a2e"/>'
                   f'<text x="{PAD_LEFT + 124}" y="{y}" font-size="11" font-family="sans-serif">'
                   f'{escape(legend[1])}</text>')
    out.append("</svg>")
    return "".join(out)


def line(title: str, xs: list[float], series: list[tuple[str, list[float]]], *, x_label: str = "",
         y_label: str = "") -> str:
    """One or more lines over the same ``xs`` (partial dependence curves), with min/max ticks."""
    w, h, left, bottom, top_pad = 360, 220, 54, 36, 24
    ys = [v for _, s in series for v in s] or [0.0]
    x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1.0
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pw, ph = w - left - 12, h - bottom - top_pad

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top_pad + (1 - (y - y0) / (y1 - y0)) * ph

    colours = ("#3b6ea5", "#d08a2e", "#4f9a59", "#a54a6e", "#6b6b6b")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
           f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
           f'<text x="4" y="15" font-size="12" font-family="sans-serif">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top_pad + ph}" x2="{left + pw}" y2="{top_pad + ph}" stroke="#888"/>',
           f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{top_pad + ph}" stroke="#888"/>',
           f'<text x="{left}" y="{h - 18}" font-size="10" font-family="sans-serif">{_num(x0)}</text>',
           f'<text x="{left + pw}" y="{h - 18}" font-size="10" text-anchor="end" font-family="sans-serif">'
           f'{_num(x1)}</text>',
           f'<text x="{left + pw / 2}" y="{h - 4}" font-size="10" text-anchor="middle" font-family="sans-serif">'
           f'{escape(x_label)}</text>',
           f'<text x="{left - 4}" y="{top_pad + 8}" font-size="10" text-anchor="end" font-family="sans-serif">'
           f'{_num(y1)}</text>',
           f'<text x="{left - 4}" y="{top_pad + ph}" font-size="10" text-anchor="end" font-family="sans-serif">'
           f'{_num(y0)}</text>',
           f'<text x="4" y="{top_pad + ph / 2}" font-size="10" font-family="sans-serif">{escape(y_label[:8])}</text>']
    for k, (name, s) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, s, strict=False))
        colour = colours[k % len(colours)]
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        if len(series) > 1:
            out.append(f'<text x="{left + pw - 4}" y="{top_pad + 12 + 12 * k}" font-size="10" text-anchor="end" '
                       f'fill="{colour}" font-family="sans-serif">{escape(name[:24])}</text>')
    out.append("</svg>")
    return "".join(out)
