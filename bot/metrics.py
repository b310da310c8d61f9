"""Prometheus metrics, served as text at `GET /metrics`.

Each running bot has its own registry (tests and benchmarks start several in one process).
Counters are bumped where things happen; the open-incident gauge is read from the database at
scrape time, so every replica reports the same, true figure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.admin import version
from bot.incidents.model import Incident

# The classic text format, which every Prometheus version scrapes (our names need no escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A reminder posted later than this after its due time counts as late.
LATE_AFTER = timedelta(seconds=60)
_DETECT_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
_LATENESS_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.open_incidents = Gauge(
            "foghorn_open_incidents", "Open incidents, by severity and type",
            ["severity", "type"], registry=r)
        self.declared = Counter(
            "foghorn_incidents_declared", "Incidents declared (duplicates not counted)",
            ["severity", "type"], registry=r)
        self.reminders_sent = Counter(
            "foghorn_reminders_sent", "Reminders, nudges and escalations posted", ["kind"],
            registry=r)
        self.reminders_late = Counter(
            "foghorn_reminders_late",
            f"Reminders posted more than {int(LATE_AFTER.total_seconds())}s after their due "
            "time", ["kind"], registry=r)
        self.reminder_lateness = Histogram(
            "foghorn_reminder_lateness_seconds", "How long after its due time a reminder was "
            "posted", ["kind"], buckets=_LATENESS_BUCKETS, registry=r)
        self.slack_calls = Counter(
            "foghorn_slack_api_calls",
            "Slack Web API calls by method and final outcome (ok or Slack's error code)",
            ["method", "outcome"], registry=r)
        self.slack_ratelimited = Counter(
            "foghorn_slack_api_ratelimited",
            "HTTP 429 answers from Slack (each retried after Retry-After)", ["method"],
            registry=r)
        self.build_info = Gauge(
            "foghorn_build_info", "The running Foghorn's version (the value is always 1)",
            ["version"], registry=r)
        self.build_info.labels(version()).set(1)
        self.app_rate_limited = Counter(
            "foghorn_slack_app_rate_limited",
            "app_rate_limited notices: Slack held back events over its 30,000 an hour limit",
            registry=r)
        self.ack_seconds = Histogram(
            "foghorn_request_ack_seconds", "Time from a request's arrival to its HTTP answer",
            ["kind"], buckets=_ACK_BUCKETS, registry=r)
        self.detect_to_declare = Histogram(
            "foghorn_detection_to_declare_seconds", "For incidents with a detection time (an "
            "alert's start, or given at declare): how long until they were declared",
            ["severity"], buckets=_DETECT_BUCKETS, registry=r)
        self.alerts = Counter(
            "foghorn_alert_notifications", "Alert notifications stored, by source and status",
            ["source", "status"], registry=r)
        self.deliveries = Counter(
            "foghorn_outbox_deliveries", "Reactions to incident events by subscriber and "
            "outcome (done, retry: failed and tried again later, parked: gave up)",
            ["subscriber", "outcome"], registry=r)
        self.outbox_waiting = Gauge(
            "foghorn_outbox_waiting", "Reactions not done, by subscriber and state (pending, "
            "claimed, parked), read from the database at scrape time",
            ["subscriber", "state"], registry=r)
        self.outbox_oldest = Gauge(
            "foghorn_outbox_oldest_seconds", "Age of the oldest event whose reaction is not "
            "done, by subscriber and state", ["subscriber", "state"], registry=r)
        self.alerts_waiting = Gauge(
            "foghorn_alert_notifications_waiting", "Alert notifications stored but not yet "
            "processed (read at scrape time)", registry=r)
        self.alerts_oldest = Gauge(
            "foghorn_alert_notifications_oldest_seconds", "How long the oldest unprocessed "
            "alert notification has waited", registry=r)
        self.alerts_parked = Gauge(
            "foghorn_alert_notifications_parked", "Alert notifications that kept failing and "
            "were set aside (see `foghorn outbox`)", registry=r)
        self.rejected = Counter(
            "foghorn_rejected_requests",
            "Requests refused before Bolt: bad signature, stale, malformed or too large",
            ["reason"], registry=r)

    def incident_declared(self, inc: Incident) -> None:
        self.declared.labels(inc.severity, inc.type or "").inc()
        if inc.detected_at is not None and inc.detected_at <= inc.declared_at:
            self.detect_to_declare.labels(inc.severity).observe(
                (inc.declared_at - inc.detected_at).total_seconds())

    def reminder_sent(self, kind: str, due_at: datetime, sent_at: datetime) -> None:
        late = max(timedelta(0), sent_at - due_at)
        self.reminders_sent.labels(kind).inc()
        self.reminder_lateness.labels(kind).observe(late.total_seconds())
        if late > LATE_AFTER:
            self.reminders_late.labels(kind).inc()

    def delivery(self, subscriber: str, outcome: str) -> None:
        self.deliveries.labels(subscriber, outcome).inc()

    def set_outbox(self, rows: list[tuple[str, str, int, float]]) -> None:
        """(subscriber, state, count, oldest age) of the reactions not done."""
        self.outbox_waiting.clear()
        self.outbox_oldest.clear()
        for subscriber, state, count, age in rows:
            self.outbox_waiting.labels(subscriber, state).set(count)
            self.outbox_oldest.labels(subscriber, state).set(age)

    def set_alerts_waiting(self, waiting: int, oldest: float, parked: int) -> None:
        self.alerts_waiting.set(waiting)
        self.alerts_oldest.set(oldest)
        self.alerts_parked.set(parked)

    def set_open(self, counts: dict[tuple[str, str], int], severities: list[str],
                 types: list[str]) -> None:
        """Every playbook severity and type is reported (0 when none are open), plus any
        stored one the playbook no longer has. `type` is "" for incidents without one."""
        self.open_incidents.clear()
        pairs = [(s, t) for s in severities for t in (types or [""])]
        for sev, kind in dict.fromkeys([*pairs, *counts]):
            self.open_incidents.labels(sev, kind).set(counts.get((sev, kind), 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)

