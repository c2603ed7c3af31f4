"""Monitor deployed models over a window of logged predictions: metrics, health, alerts, shutdown.

Monitoring stage, command side. ``--once`` (default) runs one pass; ``--every 5m`` runs a
pass every interval until interrupted. Prints one line per model (or the whole pass as
JSON) and exits 1 when a model is below its health minimum on a single pass, 2 for bad
input (an invalid KPI expression is reported at its ``file:line:col``).

Fails closed: a spec on main that no longer loads leaves its model unmonitored, so it is
an error of the pass (exit 2, ``file:line:col`` and the lint error on stderr) and a
critical ``monitoring.blind`` alert, never a silent drop. Exit 2 rather than 1 because
the cause is input a person must fix (the spec, as with an invalid KPI) and the house
rule gives 2 for that; the blind alert carries the governance side, and either way a
scheduled ``monitor --once`` fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_GOVERNANCE, EXIT_INPUT, EXIT_OK, UsageError

NAME = "monitor"
HELP = "compute drift/performance/bias/anomaly/operational/KPI metrics, health, alerts and auto-shutdown"
ORDER = 75


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops monitor``."""
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--once", action="store_true", help="run one pass and exit (the default)")
    when.add_argument("--every", default=None, metavar="DURATION", help="run a pass every DURATION (e.g. 5m)")
    parser.add_argument("--window", default=None, metavar="DURATION",
                        help="window of logged predictions (default: each spec's monitoring.window)")
    parser.add_argument("--model", action="append", default=[], metavar="ID", help="only this model (repeatable)")
    parser.add_argument("--tenant", action="append", default=[], metavar="NAME",
                        help="only this tenant's models (repeatable; the per-tenant Argo CronWorkflows use it)")
    parser.add_argument("--dry-run", action="store_true",
                        help="compute and record metrics and health, but send no alert and take no action")
    parser.add_argument("--now", default=None, metavar="TIME",
                        help="end the window at TIME (RFC 3339, e.g. 2026-11-23T18:00:00Z) to replay a past window")
    parser.add_argument("--passes", type=int, default=None, help=argparse.SUPPRESS)
    add_format(parser, ["text", "json"])


def _duration(text: str, flag: str) -> float:
    from engine.monitoring.alerts.manager import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise UsageError(f"{flag} takes a duration such as 90s, 5m, 1h or 2d, not {text!r}") from None


def _now_ns(text: str) -> int:
    from datetime import UTC, datetime, timedelta

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--now takes an RFC 3339 time such as 2026-11-23T18:00:00Z, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def _print_text(doc: dict[str, Any]) -> None:
    rows = [("MODEL", "ROWS", "HEALTH", "FLAGS", "ALERTS SENT", "ACTION")]
    for m in doc["models"]:
        h = m["health"] or {}
        score = "-" if h.get("score") is None else f"{h['score']:.2f}" + (" RED" if h.get("red") else "")
        sent = sum(1 for a in m["alerts"] if a["delivered"])
        failed = sum(1 for a in m["alerts"] if not a["delivered"])
        alerts = f"{sent}" + (f" ({failed} queued)" if failed else "")
        action = "-"
        if m["shutdown"]:
            s = m["shutdown"]
            action = f"shutdown→{s.get('to_version') or 'stopped'} {s.get('branch') or ''}".strip()
        if m["error"]:
            score, action = "error", m["error"]
        flags = ", ".join(m["flags"][:4]) + ("…" if len(m["flags"]) > 4 else "")
        rows.append((m["model"], str(m["rows"]), score, flags or "-", alerts, action))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:5])) + "  " + r[5])
    if doc["outbox"].get("pending"):
        print(f"{doc['outbox']['pending']} alert(s) waiting in the outbox (.govops/monitoring/outbox.json)")


def _tenant_models(args: argparse.Namespace, models: list[str] | None) -> list[str]:
    """The models of ``--tenant`` (within ``--model`` when both are given)."""
    from engine.commands._common import workspace

    ids = sorted(m for m in workspace(args).by_id() if m.split("/", 1)[0] in args.tenant)
    return [m for m in ids if models is None or m in models]


def run(args: argparse.Namespace) -> int:
    """Run one pass, or a pass every interval."""
    from engine.monitoring.run import monitor_once

    if args.window is not None:
        _duration(args.window, "--window")
    every = _duration(args.every, "--every") if args.every else None
    if args.now is not None and every is not None:
        raise UsageError("--now replays one window; it cannot be combined with --every")
    now_ns = _now_ns(args.now) if args.now is not None else None
    root = repo_root(args)
    models = list(args.model) or None
    if args.tenant:
        models = _tenant_models(args, models)
        if not models:
            print(f"no model of tenant(s) {', '.join(args.tenant)} to monitor")
            return EXIT_OK
    passes = 0
    while True:
        started = time.monotonic()
        result = monitor_once(root, window=args.window, models=models, act=not args.dry_run,
                              now_ns=now_ns)
        doc = result.to_data()
        if args.format == "json":
            sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        else:
            _print_text(doc)
        for err in result.errors:
            print(err.render(), file=sys.stderr)
        passes += 1
        if every is None or (args.passes is not None and passes >= args.passes):
            break
        sys.stdout.flush()
        time.sleep(max(0.0, every - (time.monotonic() - started)))
    if result.errors:
        return EXIT_INPUT
    return EXIT_GOVERNANCE if any(m.health is not None and m.health.red for m in result.models) else EXIT_OK
