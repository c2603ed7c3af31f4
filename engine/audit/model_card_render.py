"""Rendering model cards (and pack reports): Markdown, and one self-contained HTML file (inline CSS and SVG).

Audit stage, output side. Every fact shows its value or **missing** (with why) and a numbered
source; the sources list at the end names the spec file and commit, or the ledger record
(the commit it is about, the note's commit, when it was recorded) each figure came from.
HTML has no JavaScript and loads nothing: links are anchors within the page. Charts are drawn
here from the recorded numbers (never copied from a result file), and every text is escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from engine.spec.markdown_text import md_text

CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;
font-size:.92em}th{background:#f3f3f3;text-align:left}.missing{color:#a40000;font-weight:bold}
.basis{color:#666;font-size:.85em}.src{font-size:.8em}.covered{color:#1d6b2a}.partial{color:#9a6400}
code{background:#f5f5f5;padding:0 .2em}"""


class _Sources:
    """Numbers each distinct source once, in order of first use."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._keys: dict[str, int] = {}

    def ref(self, source: dict[str, Any] | None) -> int | None:
        if not source:
            return None
        key = json.dumps(source, sort_keys=True, default=str)
        if key not in self._keys:
            self.items.append(source)
            self._keys[key] = len(self.items)
        return self._keys[key]


def describe_source(s: dict[str, Any]) -> str:
    """One line naming where a fact came from."""
    parts = [str(s.get("label") or s.get("kind") or "source")]
    if s.get("commit"):
        parts.append(f"commit {str(s['commit'])[:12]}")
    if s.get("note") and s.get("note") != s.get("commit"):
        parts.append(f"ledger note on {str(s['note'])[:12]}")
    if s.get("kind") and s.get("kind") not in ("spec",):
        parts.append(f"record kind {s['kind']}")
    if s.get("recorded"):
        parts.append(f"recorded {s['recorded']}")
    return ", ".join(parts)


def _plain(value: Any) -> str:
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, sort_keys=False)
    return str(value)


# --- Markdown -------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return md_text(text)


def _md_value(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v if k not in ("link",)))
        head = "| " + " | ".join(keys) + " |\n|" + "---|" * len(keys) + "\n"
        return "\n\n" + head + "".join("| " + " | ".join(_md_cell(_plain(v.get(k))) for k in keys) + " |\n"
                                       for v in value)
    if isinstance(value, dict) and value and all(not isinstance(v, list) for v in value.values()):
        return "\n\n" + "".join(f"  - {_md_cell(str(k))}: {_md_cell(_plain(v))}\n" for k, v in value.items())
    return _md_cell(_plain(value))


def render_card_markdown(doc: dict[str, Any]) -> str:
    """The card as Markdown: every section, every fact with its value or **missing**, sources at the end."""
    src = _Sources()
    out = [f"# {doc['title']}\n", f"Tier **{doc['tier']}**; read at {doc['ref']} ({doc['commit'][:12]}), "
                                  f"spec `{doc['file']}`.\n"]
    for section in doc["sections"]:
        out.append(f"\n## {section['heading']}\n\n_{section['basis']}_\n")
        for name, f in section["facts"].items():
            n = src.ref(f.get("source"))
            cite = f" [{n}]" if n else ""
            if f.get("value") is None:
                out.append(f"- **{name}**: **missing**: {f.get('missing')}{cite}\n")
            elif name == "charts":
                out.append(f"- **{name}**: drawn in the HTML card{cite}\n")
            else:
                out.append(f"- **{name}**: {_md_value(f['value'])}{cite}\n")
    out.append("\n## Sources\n\n")
    out += [f"{i}. {describe_source(s)}\n" for i, s in enumerate(src.items, 1)]
    return "".join(out)


# --- HTML -----------------------------------------------------------------------------------------
def _html_value(value: Any) -> str:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for v in value for k in v if k not in ("link",)))
        rows = "".join("<tr>" + "".join(f"<td>{escape(_plain(v.get(k)))}</td>" for k in keys) + "</tr>"
                       for v in value)
        return "<table><tr>" + "".join(f"<th>{escape(k)}</th>" for k in keys) + f"</tr>{rows}</table>"
    if isinstance(value, dict) and value and all(not isinstance(v, list) for v in value.values()):
        rows = "".join(f"<tr><td>{escape(str(k))}</td><td>{escape(_plain(v))}</td></tr>" for k, v in value.items())
        return f"<table>{rows}</table>"
    return escape(_plain(value))


def bars_svg(title: str, rows: list[tuple[str, float]]) -> str:
    """Horizontal bars (escaped labels), for importance and per-slice metrics."""
    width, left, bar = 560, 170, 16
    height = 28 + len(rows) * (bar + 5)
    top = max([abs(v) for _, v in rows] + [1e-12])
    scale = (width - left - 70) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
             f'<title>{escape(title)}</title><text x="4" y="15" font-size="13">{escape(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 24 + i * (bar + 5)
        w = max(abs(value) * scale, 0.5)
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">{escape(label[:28])}</text>'
                     f'<rect x="{left if value >= 0 else left - w:.1f}" y="{y}" width="{w:.1f}" height="{bar}" '
                     f'fill="#3b6ea5"/><text x="{left + max(value, 0) * scale + 4:.1f}" y="{y + 12}" '
                     f'font-size="11">{value:.4g}</text>')
    return "".join(parts) + "</svg>"


def line_svg(title: str, xs: list[float], ys: list[float]) -> str:
    """One curve (partial dependence), with its range written at the axes."""
    w, h, left, pad = 360, 200, 50, 22
    if not xs or not ys:
        return ""
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-9)
    pts = " ".join(f"{left + (x - x0) / (x1 - x0) * (w - left - 10):.1f},"
                   f"{pad + (1 - (y - y0) / (y1 - y0)) * (h - 2 * pad):.1f}" for x, y in zip(xs, ys, strict=False))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img"><title>{escape(title)}'
            f'</title><text x="4" y="14" font-size="12">{escape(title)}</text>'
            f'<polyline fill="none" stroke="#3b6ea5" stroke-width="2" points="{pts}"/>'
            f'<text x="{left}" y="{h - 4}" font-size="10">{x0:.4g}</text>'
            f'<text x="{w - 10}" y="{h - 4}" font-size="10" text-anchor="end">{x1:.4g}</text>'
            f'<text x="2" y="{pad + 8}" font-size="10">{y1:.4g}</text>'
            f'<text x="2" y="{h - pad}" font-size="10">{y0:.4g}</text></svg>')


def _charts(section: dict[str, Any]) -> str:
    facts = section["facts"]
    out = []
    if section["key"] == "explainability":
        imp = (facts.get("permutation importance") or {}).get("value")
        if isinstance(imp, dict) and imp:
            rows = sorted(((k, float(v)) for k, v in imp.items() if isinstance(v, int | float)), key=lambda r: -r[1])
            out.append(bars_svg("Permutation importance (drop in the primary metric)", rows))
        pd_ = (facts.get("partial dependence") or {}).get("value")
        if isinstance(pd_, dict):
            for feature, curve in list(pd_.items())[:3]:
                avg = curve.get("average") if isinstance(curve, dict) else None
                if isinstance(avg, list) and avg and isinstance(avg[-1], list):
                    out.append(line_svg(f"Partial dependence on {feature}", list(curve.get("grid") or []),
                                        [float(y) for y in avg[-1]]))
    if section["key"] == "quantitative":
        per = (facts.get("per slice") or {}).get("value")
        if isinstance(per, dict) and per:
            out.append(bars_svg("Primary metric per slice",
                                [(k, float(v)) for k, v in per.items() if isinstance(v, int | float)]))
    return "".join(f"<figure>{c}</figure>" for c in out if c)


def render_card_html(doc: dict[str, Any]) -> str:
    """The card as one self-contained HTML page."""
    src = _Sources()
    body = [f"<h1>{escape(doc['title'])}</h1><p>Tier <b>{escape(doc['tier'])}</b>; read at {escape(doc['ref'])} "
            f"(<code>{escape(doc['commit'][:12])}</code>), spec <code>{escape(doc['file'])}</code>.</p>"]
    for section in doc["sections"]:
        body.append(f'<section id="{escape(section["key"])}"><h2>{escape(section["heading"])}</h2>'
                    f'<p class="basis">{escape(section["basis"])}</p><table>')
        for name, f in section["facts"].items():
            if name == "charts":
                continue
            n = src.ref(f.get("source"))
            cite = f' <a class="src" href="#src-{n}">[{n}]</a>' if n else ""
            if f.get("value") is None:
                cell = f'<span class="missing">missing</span>: {escape(str(f.get("missing")))}'
            else:
                cell = _html_value(f["value"])
            body.append(f"<tr><th>{escape(name)}</th><td>{cell}{cite}</td></tr>")
        body.append("</table>" + _charts(section) + "</section>")
    body.append('<section id="sources"><h2>Sources</h2><ol>')
    body += [f'<li id="src-{i}">{escape(describe_source(s))}</li>' for i, s in enumerate(src.items, 1)]
    body.append("</ol></section>")
    return _page(doc["title"], "".join(body))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")


# --- pack reports -----------------------------------------------------------------------------------
def render_pack_markdown(doc: dict[str, Any]) -> str:
    """A pack report: per model, each control covered (with its evidence), partial or missing."""
    out = [f"# {doc['title']}\n\nSource: {doc['source']} (published {doc['published']}); pack file "
           f"`{doc['file']}` at {doc['ref']} ({doc['commit'][:12]}).\n"]
    for m in doc["models"]:
        c = m["counts"]
        out.append(f"\n## {m['model']} {m['version'] or ''}\n\n{c['covered']} covered, {c['partial']} partial, "
                   f"{c['missing']} missing.\n\n| control | ref | status | evidence |\n|---|---|---|---|\n")
        for ctl in m["controls"]:
            ev = "; ".join(f"{i['key']}: {i['status']}" + (f" ({i['note']})" if i.get("note") else "")
                           + "".join(f" [{describe_source(s)}]" for s in i.get("links") or [] if s.get("commit"))
                           for i in ctl["items"])
            out.append(f"| {ctl['id']} | {_md_cell(ctl['ref'])} | **{ctl['status']}** | {_md_cell(ev)} |\n")
    return "".join(out)


def render_pack_html(doc: dict[str, Any]) -> str:
    """The pack report as one self-contained HTML page."""
    body = [f"<h1>{escape(doc['title'])}</h1><p>Source: {escape(doc['source'])} (published "
            f"{escape(doc['published'])}); pack <code>{escape(doc['file'])}</code> at {escape(doc['ref'])}.</p>"]
    for m in doc["models"]:
        c = m["counts"]
        body.append(f"<h2>{escape(m['model'])} {escape(str(m['version'] or ''))}</h2><p>{c['covered']} covered, "
                    f"{c['partial']} partial, {c['missing']} missing.</p><table><tr><th>control</th><th>ref</th>"
                    "<th>status</th><th>evidence</th></tr>")
        for ctl in m["controls"]:
            items = "<br>".join(
                f"{escape(i['key'])}: <span class=\"{escape(i['status'])}\">{escape(i['status'])}</span>"
                + (f" ({escape(str(i['note']))})" if i.get("note") else "")
                + "".join(f" <span class=\"src\">[{escape(describe_source(s))}]</span>" for s in i.get("links") or []
                          if s.get("commit"))
                for i in ctl["items"])
            body.append(f"<tr><td>{escape(ctl['id'])}<br><small>{escape(ctl['title'])}</small></td>"
                        f"<td>{escape(ctl['ref'])}</td><td class=\"{escape(ctl['status'])}\">{escape(ctl['status'])}"
                        f"</td><td>{items}</td></tr>")
        body.append("</table>")
    return _page(doc["title"], "".join(body))
