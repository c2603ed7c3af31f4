"""Real alert receivers for tests: an HTTP server answering as Slack webhooks and PagerDuty's
Events API v2 document, and an SMTP server (aiosmtpd). Each records what it received;
answers can be scripted (status and body) to exercise retries and the outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers.local_http import LoopbackServer

PD_REQUIRED = ("routing_key", "event_action")
PD_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Received:
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class HttpReceivers(LoopbackServer):
    """``POST /slack/<hook>`` answers like a Slack incoming webhook; ``POST /v2/enqueue`` like PagerDuty."""

    slack: list[Received] = field(default_factory=list)
    pagerduty: list[Received] = field(default_factory=list)
    script: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # path prefix -> answers

    def __post_init__(self) -> None:
        self._serve(self._handler())

    def fail_next(self, prefix: str, *answers: tuple[int, str]) -> None:
        self.script.setdefault(prefix, []).extend(answers)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, text: str, ctype: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                for prefix, answers in rec.script.items():
                    if self.path.startswith(prefix) and answers:
                        status, text = answers.pop(0)
                        self._reply(status, text, "text/plain")
                        return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if self.path.startswith("/slack/"):
                    # Slack: 200 "ok"; a body without text is "invalid_payload" (400)
                    if not isinstance(body, dict) or not body.get("text"):
                        self._reply(400, "invalid_payload", "text/plain")
                        return
                    rec.slack.append(Received(self.path, body, dict(self.headers)))
                    self._reply(200, "ok", "text/plain")
                    return
                if self.path == "/v2/enqueue":
                    errors = _pd_errors(body)
                    if errors:
                        self._reply(400, json.dumps({"status": "invalid event", "message": "Event object is invalid",
                                                     "errors": errors}), "application/json")
                        return
                    rec.pagerduty.append(Received(self.path, body, dict(self.headers)))
                    self._reply(202, json.dumps({"status": "success", "message": "Event processed",
                                                 "dedup_key": body.get("dedup_key")}), "application/json")
                    return
                self._reply(404, "no_service", "text/plain")

        return Handler


def _pd_errors(body: Any) -> list[str]:
    """The checks PagerDuty documents for Events API v2 alert events."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    errors = [f"'{k}' is missing" for k in PD_REQUIRED if not body.get(k)]
    if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    if body.get("event_action") in ("acknowledge", "resolve") and not body.get("dedup_key"):
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if len(str(body.get("dedup_key", ""))) > 255:
        errors.append("'dedup_key' is longer than 255 characters")
    if body.get("event_action") == "trigger":
        p = body.get("payload")
        if not isinstance(p, dict):
            errors.append("'payload' is missing")
        else:
            for k in ("summary", "source", "severity"):
                if not p.get(k):
                    errors.append(f"'payload.{k}' is missing")
            if p.get("severity") not in PD_SEVERITIES:
                errors.append("'payload.severity' is invalid")
            if len(str(p.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
    return errors


class SmtpReceiver:
    """A local SMTP server (aiosmtpd) that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                outer.messages.append(message_from_bytes(envelope.original_content or envelope.content))
                return "250 Message accepted for delivery"

        import socket

        # the listening socket is bound here and handed to the server, never released and re-bound
        # (aiosmtpd needs the concrete port only to connect to itself once it has started)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._port = int(self._sock.getsockname()[1])
        sock = self._sock

        class OnSocket(Controller):
            def _create_server(self) -> Any:
                return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)

        self.controller = OnSocket(Handler(), hostname="127.0.0.1", port=self._port)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    @property
    def port(self) -> int:
        return self._port

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
        self._sock.close()
