"""What serves where: every served model version with its role, URL and readiness.

``--format json`` is a stable interface: ``{"target", "server": {"url", "pid", "running"},
"gateway_url", "commit", "digest", "rollout_in_progress", "versions": [{"model",
"version", "role", "weight", "mlserver_name", "url", "ready", "sha256"}]}``; ``url`` is
the version's Open Inference Protocol base URL (``…/v2/models/{name}/versions/{v}``).
"""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands._common import add_format, repo_root
from engine.spec.errors import EXIT_OK

NAME = "status"
HELP = "show every served model version: role, Open Inference Protocol URL, readiness"
ORDER = 73


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``govops status``."""
    add_format(parser, ["text", "json"])


def run(args: argparse.Namespace) -> int:
    """Print the status of the local target."""
    from engine.rollout.targets.local import LocalTarget

    doc = LocalTarget(repo_root(args)).status()
    from engine.monitoring.state import read_health

    doc["monitoring"] = read_health(repo_root(args))  # per model: health, red, flags, last_alert (govops monitor)
    if args.format == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    server = doc["server"]
    if server["running"]:
        print(f"MLServer {server['url']} (pid {server['pid']})")
    else:
        print("MLServer is not running (govops serve starts it)")
    if doc["gateway_url"]:
        print(f"gateway {doc['gateway_url']}")
    if doc["commit"]:
        print(f"rolled out {doc['commit'][:12]} (digest {doc['digest'][:12]})")
    if doc["rollout_in_progress"]:
        print("a rollout is in progress or was interrupted (the next rollout completes or undoes it)")
    _print_health(doc["monitoring"])
    if not doc["versions"]:
        print("no model versions served")
        return EXIT_OK
    rows = [("MODEL", "VERSION", "ROLE", "READY", "URL")]
    for v in doc["versions"]:
        role = v["role"] or "-"
        if v["weight"] is not None:
            role += f" {v['weight']:g}%"
        rows.append((v["model"], v["version"], role, "yes" if v["ready"] else "no", v["url"] or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(widths[i]) for i, c in enumerate(r[:4])) + "  " + r[4])
    return EXIT_OK


def _print_health(health: dict[str, dict[str, object]]) -> None:
    """One line per monitored model: health score, red flag, failing metrics, last alert (from govops monitor)."""
    for model, h in sorted(health.items()):
        score = "-" if h["health"] is None else f"{h['health']:.2f}"
        flag = " RED" if h["red"] else ""
        last = h["last_alert"] if isinstance(h["last_alert"], dict) else None
        alert = f"; last alert {last['metric']} {last['severity']} {last['status']} at {last['at']}" if last else ""
        flags = ", ".join(h["flags"]) if isinstance(h["flags"], list) and h["flags"] else "none"
        print(f"health {model}: {score}{flag} (flags: {flags}{alert})")
