"""Rendering the compliance report: one self-contained HTML file (inline CSS and SVG) or Markdown.

Audit stage (presentation only). The HTML loads nothing from the network and needs no
JavaScript: charts are inline SVG, every value is HTML-escaped. Pure functions over the
document ``engine.audit.compliance.build_report`` returns.
"""

from __future__ import annotations

from html import escape
from typing import Any

from engine.spec.markdown_text import md_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2330;max-width:1200px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d5dd}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d5dd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}.muted{color:#667085}.bad{color:#b42318;font-weight:600}.ok{color:#067647}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #d0d5dd;border-radius:6px;padding:.6rem 1rem}
.card b{display:block;font-size:1.4rem}.charts{display:flex;flex-wrap:wrap;gap:2rem}
code{font-size:.8rem}
"""
_COLORS = ("#2e90fa", "#12b76a", "#f79009", "#f04438", "#7a5af8", "#0ba5ec")


def bar_chart(title: str, data: dict[str, int], width: int = 460, colors: tuple[str, ...] = _COLORS) -> str:
    """A horizontal bar chart as inline SVG (``role=img`` with a title for screen readers)."""
    rows = list(data.items()) or [("(none)", 0)]
    top = max((v for _, v in rows), default=0) or 1
    bar_h, gap, label_w = 18, 6, 130
    height = 28 + len(rows) * (bar_h + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<text x="0" y="16" font-size="13" font-weight="600">{escape(title)}</text>']
    for i, (label, value) in enumerate(rows):
        y = 28 + i * (bar_h + gap)
        w = int((width - label_w - 50) * value / top)
        color = colors[i % len(colors)]
        parts.append(f'<text x="0" y="{y + 13}" font-size="12">{escape(str(label))}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_h}" fill="{color}"/>'
                     f'<text x="{label_w + w + 6}" y="{y + 13}" font-size="12">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(_text(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _argo_cells(change: dict[str, Any]) -> list[str]:
    """Each Argo run as ``namespace/name (uid …) URL`` when its identity was recorded, else the bare links."""
    runs = [r for r in change.get("argo_runs") or [] if isinstance(r, dict)]
    if runs:
        return [f"{r.get('namespace')}/{r.get('name')} (uid {r.get('uid') or '?'}) {r.get('url') or ''}".rstrip()
                for r in runs]
    return [str(u) for u in change.get("argo") or []]


def _sections(doc: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]], str]]:
    return [
        ("Inventory", ["Model", "Tier", "Owners", "Champion", "Versions", "File"],
         [[m["id"], m["tier"], m["owners"], m["champion"], m["versions"], m["file"]]
          for m in doc["inventory"]["models"]], "no models"),
        ("Changes in the period", ["Date", "Commit", "PR", "Author", "Models", "Approved by", "Policy decisions",
                                   "Checks", "Rollout", "Evidence", "CI run / Argo", "Integrity"],
         [[c["date"][:19], c["commit"][:12], f"#{c['pr']}" if c["pr"] else "", c["author"], c["models"],
           c["approvers"] or "none recorded", f"{c['policy_decisions']} ({c['denied']} denied)",
           f"{c['validation']} ({c['failed_checks']} failed)", c["rollout"],
           "missing" if c["evidence_missing"] else "recorded",
           [u for u in [c.get("ci_run"), *_argo_cells(c)] if u] or "-",
           f"UNVERIFIED: {c['unverified']}" if c.get("unverified") else "verified"]
          for c in doc["changes"]], "no changes in the period"),
        ("Policy exceptions (waivers)", ["Rule", "Model", "Reason", "Approver", "Expires", "Status"],
         [[w["rule"], w["model"], w["reason"], w["approver"], w["expires"], w["status"]]
          for w in doc["policy_exceptions"]], "no waivers"),
        ("Failed validations", ["Date", "Commit", "Model", "Version", "Check", "Status", "Summary"],
         [[f["date"], str(f["commit"])[:12], f["model"], f["version"], f["check"], f["status"], f["summary"]]
          for f in doc["failed_validations"]], "no failed validations recorded"),
        ("Incidents and shutdowns", ["Date", "Kind", "Commit", "Models", "Detail"],
         [[i["date"], i["kind"], str(i["commit"])[:12], i["models"], i["detail"]] for i in doc["incidents"]],
         "no incidents recorded"),
        ("Models lacking required evidence", ["Model", "Tier", "Missing"],
         [[m["model"], m["tier"], "; ".join(m["missing"])] for m in doc["lacking_evidence"]],
         "every model has its required evidence"),
    ]


def render_html(doc: dict[str, Any]) -> str:
    """One self-contained HTML page."""
    s = doc["summary"]
    period = doc["period"]
    scope = f"tenant {doc['tenant']}" if doc["tenant"] else "all tenants"
    when = f"{period['since'] or 'the beginning'} to {period['until'] or doc['generated']}"
    cards = "".join(
        f'<div class="card"><b class="{"bad" if v and k not in ("models", "changes") else ""}">{v}</b>'
        f'{escape(k.replace("_", " "))}</div>' for k, v in s.items()
    )
    charts = "".join([
        bar_chart("Models by tier", doc["inventory"]["by_tier"]),
        bar_chart("Changes per month", doc["changes_per_month"]),
        bar_chart("Changes: evidence", {
            "recorded": s["changes"] - s["changes_without_evidence"],
            "missing": s["changes_without_evidence"],
        }, colors=("#12b76a", "#f04438")),
    ])
    out = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(doc['title'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(doc['title'])}</h1>",
        f'<p class="muted">{escape(scope)}; period {escape(when)}; branch {escape(doc["ref"])} at '
        f"<code>{escape(doc['commit'][:12])}</code>; generated {escape(doc['generated'])}</p>",
    ]
    if doc["history"]["note"]:
        out.append(f'<p class="bad">{escape(doc["history"]["note"])}</p>')
    out.append(f'<div class="cards">{cards}</div><h2>Charts</h2><div class="charts">{charts}</div>')
    for title, headers, rows, empty in _sections(doc):
        out.append(f"<h2>{escape(title)}</h2>" + _table(headers, rows, empty))
    if doc["invalid_notes"]:
        out.append("<h2>Ledger notes that are not valid JSON</h2>" + _table(
            ["Commit", "Line", "Error"], [[n["commit"][:12], n["line"], n["error"]] for n in doc["invalid_notes"]],
            ""))
    out.append("</body></html>\n")
    return "".join(out)


def _md_cell(value: Any) -> str:
    return md_text(_text(value))


def render_markdown(doc: dict[str, Any]) -> str:
    """The same sections as Markdown tables."""
    period = doc["period"]
    out = [f"# {doc['title']}\n\n",
           f"Scope: {'tenant ' + doc['tenant'] if doc['tenant'] else 'all tenants'}; period "
           f"{period['since'] or 'the beginning'} to {period['until'] or doc['generated']}; "
           f"`{doc['ref']}` at `{doc['commit'][:12]}`.\n\n"]
    if doc["history"]["note"]:
        out.append(f"**{doc['history']['note']}**\n\n")
    out.append("| " + " | ".join(k.replace("_", " ") for k in doc["summary"]) + " |\n")
    out.append("|" + " --- |" * len(doc["summary"]) + "\n")
    out.append("| " + " | ".join(str(v) for v in doc["summary"].values()) + " |\n")
    out.append("\n## Models by tier\n\n" + "".join(f"- {t}: {n}\n" for t, n in doc["inventory"]["by_tier"].items()))
    for title, headers, rows, empty in _sections(doc):
        out.append(f"\n## {title}\n\n")
        if not rows:
            out.append(f"_{empty}_\n")
            continue
        out.append("| " + " | ".join(headers) + " |\n|" + " --- |" * len(headers) + "\n")
        out.extend("| " + " | ".join(_md_cell(c) for c in r) + " |\n" for r in rows)
    return "".join(out)
