"""Alert delivery against real receivers: Slack webhook and PagerDuty Events API v2 over HTTP, email over SMTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.monitoring.alerts import Alert
from engine.monitoring.alerts.manager import AlertManager, parse_duration
from engine.monitoring.alerts.outbox import Outbox
from engine.monitoring.alerts.secrets import SecretStore
from engine.spec.model import EmailChannel, PagerDutyChannel, SlackChannel
from tests.helpers.alert_receivers import HttpReceivers, SmtpReceiver

pytestmark = pytest.mark.slow

SLACK = SlackChannel.model_validate({"type": "slack", "webhookSecret": "SLACK_HOOK", "channel": "#models"})
PD = PagerDutyChannel.model_validate({"type": "pagerduty", "routingKeySecret": "PD_KEY", "severity": "critical"})
MAIL = EmailChannel.model_validate({"type": "email", "to": ["oncall@example.com"]})
ALLOWED = {"clinical": ["SLACK_HOOK", "PD_KEY"]}  # govops.yaml tenants.<t>.secrets of these tests


def alert(metric: str = "drift.drifted_share", severity: str = "warning", status: str = "firing") -> Alert:
    return Alert("clinical/readmission-triage", metric, severity, status, f"{metric} = 0.8 (allowed <= 0.3)",
                 "2026-11-23T18:00:00+00:00", 0.8, "<= 0.3", 0.35)


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GOVOPS_ALERT_RETRY_BASE_S", "0.01")
    with HttpReceivers() as http, SmtpReceiver() as smtp:
        monkeypatch.setenv("GOVOPS_PAGERDUTY_URL", http.url)
        secrets = SecretStore(tmp_path, None, env={
            "SLACK_HOOK": f"{http.url}/slack/T000/B000/XXXX", "PD_KEY": "R0UT1NGKEY",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_FROM": "govops@example.com"},
            tenant_secrets=ALLOWED)
        yield http, smtp, Outbox(tmp_path / "mon", secrets, sleep=lambda s: None), tmp_path


def test_slack_pagerduty_and_email_receive_one_alert_each(env) -> None:
    http, smtp, outbox, _ = env
    for ch in (SLACK, PD, MAIL):
        assert outbox.deliver(alert(), ch) is True
    assert len(http.slack) == 1
    body = http.slack[0].body
    assert "drift.drifted_share" in body["text"] and body["channel"] == "#models"
    assert http.slack[0].path == "/slack/T000/B000/XXXX"
    ev = http.pagerduty[0].body
    assert ev["routing_key"] == "R0UT1NGKEY" and ev["event_action"] == "trigger"
    assert ev["payload"]["severity"] == "warning"  # a govops warning stays a warning
    assert ev["payload"]["source"] == "govops/clinical/readmission-triage"
    assert ev["dedup_key"] == alert().dedup_key and len(ev["dedup_key"]) <= 255
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "oncall@example.com" and "WARNING" in msg["Subject"]
    assert "drift.drifted_share" in msg.get_payload()
    assert smtp.envelopes[0] == ("govops@example.com", ["oncall@example.com"])
    log = [json.loads(x) for x in (outbox.folder / "deliveries.jsonl").read_text().splitlines()]
    assert [r["channel"] for r in log] == ["slack", "pagerduty", "email"]
    assert all(r["outcome"] == "sent" for r in log)
    assert "R0UT1NGKEY" not in (outbox.folder / "deliveries.jsonl").read_text()


def test_pagerduty_critical_uses_channel_severity_and_resolve_has_no_payload(env) -> None:
    http, _, outbox, _ = env
    outbox.deliver(alert("health", "critical"), PD)
    outbox.deliver(alert("health", "critical", "resolved"), PD)
    trig, res = (r.body for r in http.pagerduty)
    assert trig["payload"]["severity"] == "critical"
    assert res["event_action"] == "resolve" and "payload" not in res
    assert trig["dedup_key"] == res["dedup_key"]


def test_server_errors_are_retried_with_backoff(env) -> None:
    http, _, outbox, _ = env
    waits: list[float] = []
    outbox.sleep = waits.append
    http.fail_next("/slack/", (500, "oops"), (503, "busy"))
    assert outbox.deliver(alert(), SLACK) is True
    assert len(http.slack) == 1
    assert waits == [0.01, 0.02]  # exponential backoff from GOVOPS_ALERT_RETRY_BASE_S
    assert not outbox.entries()


def test_failed_send_goes_to_outbox_and_is_delivered_later(env) -> None:
    http, _, outbox, _ = env
    http.fail_next("/slack/", (500, "down"), (500, "down"), (500, "down"))
    assert outbox.deliver(alert(), SLACK) is False
    pending = outbox.entries()
    assert len(pending) == 1 and "HTTP 500" in pending[0]["last_error"] and pending[0]["attempts"] == 3
    assert outbox.flush() == (0, 1)  # not due yet: kept, nothing lost
    assert outbox.flush(now=pending[0]["next_at"] + 1) == (1, 0)
    assert len(http.slack) == 1 and not outbox.entries()


def test_invalid_payload_is_not_retried_but_kept(env) -> None:
    http, _, outbox, _ = env
    http.fail_next("/slack/", (400, "invalid_payload"))
    waits: list[float] = []
    outbox.sleep = waits.append
    assert outbox.deliver(alert(), SLACK) is False
    assert waits == []  # a 400 is not retried in-process
    assert "invalid_payload" in outbox.entries()[0]["last_error"]


def test_missing_secret_is_recorded_in_outbox(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "mon", SecretStore(tmp_path, None, env={}, tenant_secrets=ALLOWED), sleep=lambda s: None)
    assert outbox.deliver(alert(), SLACK) is False
    assert "secret SLACK_HOOK is not set" in outbox.entries()[0]["last_error"]


def test_secrets_come_from_env_then_secrets_file(tmp_path: Path) -> None:
    (tmp_path / ".govops").mkdir()
    (tmp_path / ".govops" / "secrets.yaml").write_text("SLACK_HOOK: https://hooks.example/file\nPD_KEY: fromfile\n")
    store = SecretStore(tmp_path, ".govops/secrets.yaml", env={"PD_KEY": "fromenv"})
    assert store.require("SLACK_HOOK") == "https://hooks.example/file"
    assert store.require("PD_KEY") == "fromenv"
    with pytest.raises(LookupError, match="NOPE is not set"):
        store.require("NOPE")


def test_manager_deduplicates_renotifies_and_resolves(env) -> None:
    http, smtp, outbox, tmp = env
    mgr = AlertManager(tmp / "mon", outbox, renotify_s=3600)
    channels = [SLACK, PD, MAIL]
    t0 = 1_800_000_000.0
    for i in range(5):  # five passes (think: thousands of requests) while the metric stays over
        mgr.reconcile("clinical/readmission-triage", [alert()], channels, now=t0 + i * 60)
    assert (len(http.slack), len(http.pagerduty), len(smtp.messages)) == (1, 1, 1)
    mgr.reconcile("clinical/readmission-triage", [alert()], channels, now=t0 + 3600)  # re-notify interval
    assert (len(http.slack), len(http.pagerduty), len(smtp.messages)) == (2, 2, 2)
    assert http.pagerduty[1].body["dedup_key"] == http.pagerduty[0].body["dedup_key"]
    other = mgr.reconcile("oncology/tumor-malignancy", [], channels, now=t0 + 3700)  # another model: untouched
    assert other.sent == [] and mgr.active()
    res = mgr.reconcile("clinical/readmission-triage", [], channels, now=t0 + 3800)
    assert [s["status"] for s in res.sent] == ["resolved"] * 3
    assert http.pagerduty[-1].body["event_action"] == "resolve"
    assert "RESOLVED" in smtp.messages[-1]["Subject"]
    assert mgr.active() == {}


def test_one_alert_per_metric_and_severity(env) -> None:
    http, _, outbox, tmp = env
    mgr = AlertManager(tmp / "mon", outbox, renotify_s=3600)
    firing = [alert(), alert("anomaly.out_of_range_rate"), alert("health", "critical")]
    mgr.reconcile("clinical/readmission-triage", firing + firing, [SLACK], now=1.0)
    assert sorted(r.body["text"].split("\n")[0] for r in http.slack) == sorted(
        f"*{a.title()}*" for a in firing)


def test_parse_duration() -> None:
    assert parse_duration("5m") == 300 and parse_duration("1h") == 3600 and parse_duration("90") == 90
    for bad in ("", "-1m", "5x", "m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


# -- secrets never reach the state files; the files are private (issue #15, hole 10) -------------------------

HOOK_PATH = "/services/T0SECRET/B0SECRET/sEcReTwEbHoOkToKeN123"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_connection_errors_are_stored_without_the_webhook_path(tmp_path: Path) -> None:
    from tests.helpers.gateway_helpers import dead_url

    hook = f"{dead_url()}{HOOK_PATH}?token=qs-secret"  # a port held and never listened on: connection refused
    secrets = SecretStore(tmp_path, None, env={"SLACK_HOOK": hook}, tenant_secrets=ALLOWED)
    folder = tmp_path / "mon"
    outbox = Outbox(folder, secrets, sleep=lambda s: None)
    assert outbox.deliver(alert(), SLACK) is False
    assert outbox.flush(force=True) == (0, 1)
    stored = {name: (folder / name).read_text() for name in ("deliveries.jsonl", "outbox.json")}
    for name, text in stored.items():
        for secret in ("sEcReTwEbHoOkToKeN123", "T0SECRET", "qs-secret", hook):
            assert secret not in text, (name, secret)
    log = [json.loads(x) for x in stored["deliveries.jsonl"].splitlines()]
    assert len(log) == 4 and all(r["outcome"] == "failed" for r in log)
    assert all("ConnectionError" in r["error"] and "…redacted" in r["error"] for r in log), log[0]["error"]
    assert "Connection refused" in log[0]["error"]  # the cause is kept: it is what an operator needs
    assert "…redacted" in outbox.entries()[0]["last_error"]
    assert _mode(folder) == 0o700
    assert _mode(folder / "deliveries.jsonl") == 0o600 and _mode(folder / "outbox.json") == 0o600


def test_an_answer_echoing_the_secret_is_redacted(env) -> None:
    http, _, outbox, _ = env
    hook = outbox.secrets.require("SLACK_HOOK")
    http.fail_next("/slack/", (404, f"no_service for {hook} (path /slack/T000/B000/XXXX)"))
    http.fail_next("/v2/enqueue", (400, "invalid routing key R0UT1NGKEY"))
    assert outbox.deliver(alert(), SLACK) is False
    assert outbox.deliver(alert(), PD) is False
    text = (outbox.folder / "deliveries.jsonl").read_text() + outbox.path.read_text()
    assert "/slack/T000/B000/XXXX" not in text and "R0UT1NGKEY" not in text
    assert "no_service" in text and "invalid routing key" in text


def test_existing_state_files_are_made_private(tmp_path: Path) -> None:
    from engine.monitoring.state import locked, update_models

    folder = tmp_path / ".govops" / "monitoring"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o755)
    for name in ("deliveries.jsonl", "outbox.json", "alerts.json", "state.json"):
        (folder / name).write_text("[]\n" if name == "outbox.json" else "")
        os.chmod(folder / name, 0o644)
    outbox = Outbox(folder, SecretStore(tmp_path, None, env={}, tenant_secrets=ALLOWED), sleep=lambda s: None)
    assert outbox.deliver(alert(), SLACK) is False  # missing secret: logged and parked
    AlertManager(folder, outbox, renotify_s=60).reconcile("clinical/readmission-triage", [], [], now=1.0)
    update_models(tmp_path, {"clinical/readmission-triage": {"health": {"score": 1.0}}})
    with locked(tmp_path):
        pass
    assert _mode(folder) == 0o700
    for name in ("deliveries.jsonl", "outbox.json", "alerts.json", "state.json", ".lock"):
        assert _mode(folder / name) == 0o600, name


def test_redact_keeps_scheme_and_host_only() -> None:
    from engine.monitoring.alerts.secrets import redact_urls

    text = ("POST https://user:pw@hooks.slack.com/services/T/B/X?x=1 failed; retry "
            "http://10.0.0.5:8080/a/b#frag and ftp://h; smtp://mail.example")
    out = redact_urls(text)
    assert out == ("POST https://hooks.slack.com/…redacted failed; retry "
                   "http://10.0.0.5:8080/…redacted and ftp://h; smtp://mail.example")
    store = SecretStore(Path("."), None, env={"K": "s3cr3t-value", "U": "https://h.example/p/q?k=v"})
    store.require("K")
    store.require("U")
    assert store.redact("got s3cr3t-value and url: /p/q?k=v and /p/q") == (
        "got …redacted and url: …redacted and …redacted")


# -- red-team findings (net-fixes) -------------------------------------------------------------------------


def test_a_sender_exception_fails_one_delivery_never_the_pass(env) -> None:
    """#7: a CR/LF in an alert key made EmailMessage raise ValueError out of reconcile: no alerts, no shutdown."""
    http, smtp, outbox, tmp = env
    bad = Alert("lab/iris-species", "drift.psi[petal_width\r\nBcc: spy@evil.test]", "critical", "firing",
                "psi 0.9", "2026-11-23T18:00:00+00:00", 0.9, "<= 0.2", 0.2)
    mgr = AlertManager(tmp / "mon", outbox, renotify_s=3600)
    mgr.reconcile("lab/iris-species", [bad], [MAIL], now=1.0)  # raised ValueError before
    assert smtp.messages == []
    parked = outbox.entries()
    assert len(parked) == 1 and "could not be sent" in parked[0]["last_error"]
    log = [json.loads(x) for x in (outbox.folder / "deliveries.jsonl").read_text().splitlines()]
    assert [r["outcome"] for r in log] == ["failed"]  # not retried: retrying cannot help
    mgr.reconcile("clinical/readmission-triage", [alert()], [SLACK], now=2.0)  # the next model still alerts
    assert len(http.slack) == 1


def test_channel_secrets_are_scoped_to_the_tenant(tmp_path: Path) -> None:
    """#8: a lab spec named clinical's Slack hook and PagerDuty key, or an internal URL from the environment."""
    from engine.spec.errors import ForbiddenSecret

    store = SecretStore(tmp_path, None, env={"SLACK_WEBHOOK_LAB": "https://lab", "SLACK_WEBHOOK_CLINICAL":
                                             "https://clinical", "GOVOPS_OPA_URL": "http://opa.internal/v1"},
                        tenant_secrets={"lab": ["SLACK_WEBHOOK_LAB", "GOVOPS_OPA_URL"],
                                        "clinical": ["SLACK_WEBHOOK_CLINICAL"]})
    assert store.channel_secret("SLACK_WEBHOOK_LAB", "lab/iris-species") == "https://lab"
    with pytest.raises(ForbiddenSecret, match="not allowed for tenant lab"):
        store.channel_secret("SLACK_WEBHOOK_CLINICAL", "lab/iris-species")
    with pytest.raises(ForbiddenSecret, match="reserved"):  # even when govops.yaml lists it
        store.channel_secret("GOVOPS_OPA_URL", "lab/iris-species")
    # without a mapping the store reads root/govops.yaml; none here: nothing is allowed
    bare = SecretStore(tmp_path, None, env={"SLACK_HOOK": "https://x"})
    with pytest.raises(ForbiddenSecret):
        bare.channel_secret("SLACK_HOOK", "clinical/readmission-triage")
    outbox = Outbox(tmp_path / "mon", store, sleep=lambda s: None)
    other = SlackChannel.model_validate({"type": "slack", "webhookSecret": "SLACK_WEBHOOK_CLINICAL"})
    assert outbox.deliver(Alert("lab/iris-species", "health", "critical", "firing", "health 0.1",
                                "2026-11-23T18:00:00+00:00", 0.1, ">= 0.7", 0.1), other) is False
    assert "not allowed for tenant lab" in outbox.entries()[0]["last_error"]


def test_check_refuses_a_channel_secret_of_another_tenant(tmp_path: Path) -> None:
    """#8 at lint: file:line of the channel, for another tenant's secret and for a govops variable."""
    from engine.spec.workspace import load_spec_text, load_workspace

    root = Path(__file__).resolve().parents[2]
    text = (root / "specs/lab/iris-species.yaml").read_text()
    old = '- {type: slack, webhookSecret: SLACK_WEBHOOK_LAB, channel: "#lab-models"}'
    assert old in text
    evil = text.replace(old, '- {type: slack, webhookSecret: SLACK_WEBHOOK_CLINICAL}\n'
                             '      - {type: pagerduty, routingKeySecret: PAGERDUTY_CLINICAL}\n'
                             '      - {type: slack, webhookSecret: GOVOPS_OPA_URL}')
    config = load_workspace(root).config
    loaded, diags = load_spec_text(evil.encode(), "specs/lab/iris-species.yaml", root, config)
    found = [d for d in diags if d.rule == "spec/channel-secret"]
    assert len(found) == 3 and all(d.severity == "error" and d.line for d in found)
    lines = evil.splitlines()
    assert "SLACK_WEBHOOK_CLINICAL" in lines[found[0].line - 1]
    assert "not allowed for tenant 'lab'" in found[0].message and "reserved" in found[2].message
    _, clean = load_spec_text(text.encode(), "specs/lab/iris-species.yaml", root, config)
    assert not [d for d in clean if d.rule == "spec/channel-secret"]
