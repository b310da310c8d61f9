"""Alerts in (#19, first part): the real Prometheus Alertmanager (Debian's package) sends its
webhook to Foghorn; routes, grouping and de-duplication decide what each alert group becomes.

Where Alertmanager is not installed, its tests skip with the reason (.ci/run installs it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.store import entry_rows
from bot.testing.alertmanager import alertmanager as real_alertmanager
from bot.testing.alertmanager import alertmanager_binary
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID
from tests.conftest import ROOT, Bot, BotFactory

TOKEN = "alerts-token-0123456789abcdef"
DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def payload(group: str = "{}:{alertname=\"CheckoutErrors\"}", status: str = "firing",
            severity: str = "critical", alerts: list[dict[str, Any]] | None = None,
            summary: str = "Checkout error rate above 5%") -> dict[str, Any]:
    alerts = alerts or [{
        "status": status, "labels": {"alertname": "CheckoutErrors", "severity": severity,
                                     "instance": "api-1"},
        "annotations": {"summary": summary}, "startsAt": "2026-11-26T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0",
        "fingerprint": "f00d"}]
    return {"version": "4", "groupKey": group, "status": status, "receiver": "foghorn",
            "groupLabels": {"alertname": "CheckoutErrors"},
            "commonLabels": {"alertname": "CheckoutErrors", "severity": severity},
            "commonAnnotations": {"summary": summary},
            "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0, "alerts": alerts}


def _mrkdwn(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() for t in _mrkdwn(v)]
    if isinstance(node, list):
        return [t for v in node for t in _mrkdwn(v)]
    return []


async def post(bot: Bot, body: Any, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with bot.session.post(f"{bot.url}/alerts/alertmanager", data=data, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else {})


async def settle(bot: Bot) -> None:
    """The work after the answers, coalesced alert posts included."""
    await bot.settle()


async def notifications(bot: Bot) -> list[tuple[str, str | None, int | None]]:
    from sqlalchemy import select

    from bot.store.tables import AlertNotificationRow

    async with bot.fh.db.read() as s:
        rows = await s.execute(select(AlertNotificationRow.status, AlertNotificationRow.outcome,
                                      AlertNotificationRow.incident_id)
                               .order_by(AlertNotificationRow.id))
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


@pytest.fixture
async def alerting(make_bot: BotFactory) -> Bot:
    return await make_bot(ALERTS_TOKEN=TOKEN)


# ----- the webhook itself ----------------------------------------------------------------------
async def test_a_critical_alert_declares_one_incident_with_its_detection_time(
        alerting: Bot) -> None:
    status, body = await post(alerting, payload())
    assert status == 200 and body["ok"] is True
    await settle(alerting)
    [inc] = await alerting.open_incidents()
    assert (inc.title, inc.severity, inc.type) == ("Checkout error rate above 5%", "SEV1",
                                                  "general")
    assert inc.detected_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    texts = [m.text for m in alerting.fake.channels[inc.channel_id].messages]
    assert any(t.startswith(":rotating_light: Alerts for INC-1:\n• firing: Checkout error "
                            "rate above 5% (api-1)") for t in texts)
    assert alerting.announcements  # public, announced like any SEV1
    # The same notification again (Alertmanager's repeat, or its retry): no second incident.
    await post(alerting, payload())
    await settle(alerting)
    assert len(await alerting.open_incidents()) == 1
    assert [o for _, o, _ in await notifications(alerting)] == ["declared", "attached"]


async def test_later_notifications_join_the_timeline_and_resolved_asks_the_commander(
        alerting: Bot) -> None:
    await post(alerting, payload())
    await settle(alerting)
    [inc] = await alerting.open_incidents()
    second = {"status": "firing", "labels": {"alertname": "CheckoutErrors",
                                             "severity": "critical", "instance": "api-2"},
              "annotations": {"summary": "Checkout error rate above 5%"},
              "startsAt": "2026-11-26T10:01:00Z", "fingerprint": "beef"}
    first = payload()["alerts"][0]
    await post(alerting, payload(alerts=[first, second]))
    await settle(alerting)
    channel = alerting.fake.channels[inc.channel_id]
    assert any("firing: Checkout error rate above 5% (api-2)" in m.text
               for m in channel.messages)
    resolved = [{**a, "status": "resolved", "endsAt": "2026-11-26T10:20:00Z"}
                for a in (first, second)]
    await post(alerting, payload(status="resolved", alerts=resolved))
    await settle(alerting)
    last = channel.messages[-1]
    assert "resolved: Checkout error rate above 5% (api-1)" in last.text
    assert "Every alert of this group is resolved" in last.text
    assert "Incident Commander, move" in last.text
    assert not (await alerting.incident(inc.id)).is_resolved  # never by an alert alone
    # The commander answers with a click: monitoring, then resolved.
    from tests.conftest import BOB

    await alerting.slack.click(user=BOB, channel=inc.channel_id, message_ts=last.ts,
                               action_id="alerts_resolved_monitor")
    await settle(alerting)
    assert (await alerting.incident(inc.id)).status == "monitoring"
    await alerting.slack.click(user=BOB, channel=inc.channel_id, message_ts=last.ts,
                               action_id="alerts_resolved_resolve")
    await settle(alerting)
    # Monitoring posted the validation checklist; its open items ask for one more click.
    assert not (await alerting.incident(inc.id)).is_resolved
    ask = alerting.fake.responses[-1]
    assert "still open" in ask["text"]
    await alerting.slack.interaction({
        "type": "block_actions", "user": {"id": BOB, "name": "bob"},
        "team": {"id": "T0FOGHORN"}, "channel": {"id": inc.channel_id},
        "container": {"type": "message", "channel_id": inc.channel_id, "is_ephemeral": True},
        "response_url": alerting.fake.response_url(),
        "trigger_id": alerting.fake.new_trigger_id(),
        "actions": [{**ask["blocks"][1]["elements"][0], "block_id": "confirm",
                     "action_ts": "1"}]})
    await settle(alerting)
    done = await alerting.incident(inc.id)
    assert done.is_resolved and done.resolved_by == BOB
    async with alerting.fh.db.read() as s:
        kinds = [e.kind for e in await entry_rows.list_entries(s, inc.id)]
    assert kinds.count("alert") == 3


async def test_a_warning_goes_to_triage_with_buttons_and_escaped_labels(alerting: Bot) -> None:
    body = payload(group="{}:{alertname=\"DiskFilling\"}", severity="warning",
                   summary="Disk <!channel> filling on <@U0BOSS>")
    body["alerts"][0]["labels"]["team"] = "<!here>"
    status, _ = await post(alerting, body)
    assert status == 200
    await settle(alerting)
    assert await alerting.open_incidents() == []
    [post_] = alerting.fake.channels[INCIDENTS_CHANNEL_ID].messages
    assert "Alert to triage (SEV3)" in post_.text
    # mrkdwn (and the message text) would render a mention: escaped there; a header is
    # plain_text, which Slack never parses for mentions.
    rendered = [post_.text, *_mrkdwn(post_.blocks)]
    assert not [t for t in rendered if "<!" in t or "<@" in t], rendered
    assert any("&lt;!here&gt;" in t for t in rendered)
    [header] = [b for b in post_.blocks if b["type"] == "header"]
    assert header["text"]["type"] == "plain_text"
    buttons = [e["action_id"] for b in post_.blocks if b["type"] == "actions"
               for e in b["elements"]]
    assert buttons == ["alert_declare", "alert_dismiss"]


async def test_triage_declare_and_dismiss(alerting: Bot) -> None:
    from tests.conftest import BOB, CAROL

    await post(alerting, payload(group="g1", severity="warning", summary="Disk filling"))
    await post(alerting, payload(group="g2", severity="info", summary="Cert expires in 20d"))
    await settle(alerting)
    disk, cert = alerting.fake.channels[INCIDENTS_CHANNEL_ID].messages
    await alerting.slack.click(user=BOB, channel=INCIDENTS_CHANNEL_ID, message_ts=disk.ts,
                               action_id="alert_declare")
    await settle(alerting)
    [inc] = await alerting.open_incidents()
    assert (inc.title, inc.severity, inc.declared_by) == ("Disk filling", "SEV3", BOB)
    assert inc.detected_at == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    # The post is replaced by what was decided: no buttons left to click.
    assert f"<@{BOB}> declared it as INC-1 (SEV3) in <#{inc.channel_id}>" in disk.text
    assert disk.blocks == [] and disk.edited
    # A click from a copy of the post still showing the buttons (someone else, a moment
    # later) finds the same incident.
    declare = {"type": "button", "action_id": "alert_declare", "block_id": "alert|1",
               "value": "1", "text": {"type": "plain_text", "text": "Declare incident"}}
    await alerting.slack.block_action(user=CAROL, channel=INCIDENTS_CHANNEL_ID,
                                      message_ts=disk.ts, action=declare)
    await settle(alerting)
    assert len(await alerting.open_incidents()) == 1
    # The group's next notification joins that incident.
    await post(alerting, payload(group="g1", severity="warning", summary="Disk filling",
                                 alerts=[{**payload()["alerts"][0], "fingerprint": "d2",
                                          "labels": {"alertname": "Disk", "instance": "db-2"},
                                          "annotations": {"summary": "Disk filling"}}]))
    await settle(alerting)
    assert any("(db-2)" in m.text for m in alerting.fake.channels[inc.channel_id].messages)
    await alerting.slack.click(user=CAROL, channel=INCIDENTS_CHANNEL_ID, message_ts=cert.ts,
                               action_id="alert_dismiss")
    await settle(alerting)
    assert f"dismissed by <@{CAROL}>" in cert.text and cert.blocks == []
    await alerting.slack.block_action(user=BOB, channel=INCIDENTS_CHANNEL_ID,
                                      message_ts=cert.ts, action={**declare,
                                                                  "block_id": "alert|2",
                                                                  "value": "2"})
    await settle(alerting)
    assert alerting.fake.responses[-1]["text"] == "That alert was dismissed."
    assert len(await alerting.open_incidents()) == 1


@pytest.mark.parametrize(("body", "token", "status", "error"), [
    (payload(), "wrong-token-0123456789", 401, "unauthorized"),
    (b"not json", TOKEN, 400, "the body is not JSON"),
    ({**payload(), "version": "3"}, TOKEN, 400, "version: Input should be '4'"),
    ({**payload(), "alerts": []}, TOKEN, 400, "alerts: Tuple should have at least 1 item"),
    ({**payload(), "groupKey": None}, TOKEN, 400, "groupKey: Input should be a valid string"),
])
async def test_refused_bodies_store_nothing(alerting: Bot, body: Any, token: str, status: int,
                                            error: str) -> None:
    got, answer = await post(alerting, body, token)
    assert (got, answer["error"][:len(error)]) == (status, error)
    await settle(alerting)
    assert await notifications(alerting) == []
    async with alerting.session.get(f"{alerting.url}/metrics") as r:
        metrics = await r.text()
    reason = "alert_auth" if status == 401 else "alert_malformed"
    assert f'foghorn_rejected_requests_total{{reason="{reason}"}} 1.0' in metrics


async def test_without_a_token_the_endpoint_is_not_there(bot: Bot) -> None:
    status, _ = await post(bot, payload())
    assert status == 404


async def test_a_database_that_cannot_store_answers_503(alerting: Bot) -> None:
    assert alerting.fh.alerts is not None

    async def down(*_: object) -> int:
        raise OSError("disk I/O error")

    alerting.fh.alerts.receive = down  # type: ignore[method-assign]
    status, body = await post(alerting, payload())
    assert status == 503 and "retry" in body["error"]


async def test_two_replicas_receiving_one_group_open_one_incident(make_bot: BotFactory,
                                                                  db_url: str) -> None:
    """On PostgreSQL (replicas: the advisory lock per group) and on one SQLite file."""
    one = await make_bot(ALERTS_TOKEN=TOKEN, database_url=db_url)
    two = await make_bot(ALERTS_TOKEN=TOKEN, database_url=db_url, clock=one.clock)
    answers = await asyncio.gather(*(post(b, payload()) for b in (one, two, one, two)))
    assert [a for a, _ in answers] == [200] * 4
    await settle(one)
    await settle(two)
    assert len(await one.open_incidents()) == 1
    assert len(one.fake.calls_to("conversations.create")) == 1


async def test_a_route_that_matches_nothing_is_kept_and_visible(make_bot: BotFactory,
                                                                tmp_path: Path) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["alert_routes"] = [{"match": {"team": "payments"}, "action": "declare",
                           "severity": "SEV2"}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(ALERTS_TOKEN=TOKEN, playbooks=tmp_path)
    await post(bot, payload())
    await settle(bot)
    assert await bot.open_incidents() == []
    assert await notifications(bot) == [("firing", "unrouted", None)]


def test_bad_routes_are_refused_with_their_path() -> None:
    from bot.playbooks import PlaybookError, parse_playbook

    for change, expected in (
            ({"severity": "SEV9"}, "alert_routes[0]: unknown severity 'SEV9'"),
            ({"type": "nope"}, "alert_routes[0].type: unknown type 'nope'"),
            ({"match_re": {"x": "("}}, "alert_routes[0].match_re: x: '(' is not a regular "
                                       "expression"),
            ({"action": "page"}, "alert_routes[0].action")):
        pb = json.loads(json.dumps(DEFAULT))
        pb["alert_routes"] = [{"action": "declare", **change}]
        with pytest.raises(PlaybookError) as err:
            parse_playbook(yaml.safe_dump(pb), "pb.yml")
        assert expected in str(err.value), str(err.value)


# ----- the real Alertmanager -------------------------------------------------------------------
@pytest.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[Callable[[str], Any]]:
    """Start the real Alertmanager with the bot at `bot_url` as its webhook receiver."""
    if alertmanager_binary() is None:
        assert not os.environ.get("FOGHORN_REQUIRE_ALERTMANAGER"), \
            "CI installs prometheus-alertmanager: its tests must run, not skip"
        pytest.skip("prometheus-alertmanager is not installed (.ci/run installs Debian's)")
    async with contextlib.AsyncExitStack() as stack:
        async def start(bot_url: str) -> str:
            return await stack.enter_async_context(
                real_alertmanager(tmp_path, f"{bot_url}/alerts/alertmanager", TOKEN))

        yield start


async def fire(am: str, *alerts: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{am}/api/v2/alerts",
                                                    json=list(alerts)) as r:
        assert r.status == 200, await r.text()


def alert(instance: str, *, ends: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {"alertname": "CheckoutErrors", "severity": "critical", "instance": instance},
        "annotations": {"summary": "Checkout error rate above 5%"},
        "startsAt": (_now() - timedelta(minutes=3)).isoformat(),
        "generatorURL": "http://prometheus.example:9090/graph"}
    if ends is not None:
        body["endsAt"] = ends.isoformat()
    return body


async def until(check: Callable[[], Any], within: float = 30) -> Any:
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_real_alertmanager_groups_two_alerts_into_one_incident_and_resolves(
        alerting: Bot, alertmanager: Callable[[str], Any]) -> None:
    am = await alertmanager(alerting.url)
    await fire(am, alert("api-1"), alert("api-2"))

    async def opened() -> list:
        await settle(alerting)
        return await alerting.open_incidents()

    [inc] = await until(opened)
    assert inc.severity == "SEV1" and inc.title == "Checkout error rate above 5%"
    assert inc.detected_at is not None and inc.detected_at < inc.declared_at
    await fire(am, alert("api-1", ends=_now() - timedelta(seconds=5)),
               alert("api-2", ends=_now() - timedelta(seconds=5)))
    channel = alerting.fake.channels[inc.channel_id]

    async def told() -> bool:
        await settle(alerting)
        return any("Every alert of this group is resolved" in m.text for m in channel.messages)

    await until(told)
    assert len(await alerting.open_incidents()) == 1
    assert len(alerting.fake.calls_to("conversations.create")) == 1


async def test_real_alertmanager_retries_after_a_503(alerting: Bot,
                                                     alertmanager: Callable[[str], Any]) -> None:
    intake = alerting.fh.alerts
    assert intake is not None
    real, refused = intake.receive, []

    async def flaky(*args: Any, **kwargs: Any) -> int | None:
        if not refused:
            refused.append(1)
            raise OSError("database is locked")
        return await real(*args, **kwargs)

    intake.receive = flaky  # type: ignore[method-assign]
    am = await alertmanager(alerting.url)
    await fire(am, alert("api-1"))

    async def opened() -> list:
        await settle(alerting)
        return await alerting.open_incidents()

    [inc] = await until(opened)
    assert refused == [1] and inc.severity == "SEV1"


async def test_real_alertmanager_across_a_restart(make_bot: BotFactory, sqlite_url: str,
                                                  alertmanager: Callable[[str], Any]) -> None:
    """Foghorn restarts between two notifications of the group (on another port, as a new
    process would): Alertmanager's next notification joins the same incident."""
    first = await make_bot(ALERTS_TOKEN=TOKEN)
    await post(first, payload())
    await settle(first)
    [inc] = await first.open_incidents()
    await first.stop()
    second = await make_bot(ALERTS_TOKEN=TOKEN, database_url=sqlite_url, clock=first.clock)
    am = await alertmanager(second.url)
    await fire(am, alert("api-9"))

    async def joined() -> bool:
        await settle(second)
        return any("(api-9)" in m.text for m in second.fake.channels[inc.channel_id].messages)

    await until(joined)
    assert [i.id for i in await second.open_incidents()] == [inc.id]
    assert len(second.fake.calls_to("conversations.create")) == 1


async def test_detection_time_gives_mttd_in_stats_postmortem_and_metrics(
        make_bot: BotFactory) -> None:
    from tests.conftest import Clock

    clock = Clock(datetime(2026, 11, 26, 10, 12, tzinfo=UTC))  # 12 minutes after startsAt
    bot = await make_bot(ALERTS_TOKEN=TOKEN, clock=clock)
    await post(bot, payload())
    await settle(bot)
    [inc] = await bot.open_incidents()
    draft = await bot.fh.service.draft_postmortem(inc)
    assert "- **Time to declare (detected → declared):** 12m" in draft
    assert "- **Alerts:** [CheckoutErrors](http://prometheus:9090/graph?g0)" in draft
    await bot.command("stats 7d")
    text = bot.fake.responses[-1]["blocks"][1]["text"]["text"]
    assert "*MTTD (detected → declared):* median 12m, p90 12m (1 incident)" in text
    async with bot.session.get(f"{bot.url}/metrics") as r:
        metrics = await r.text()
    assert 'foghorn_detection_to_declare_seconds_count{severity="SEV1"} 1.0' in metrics
    assert 'foghorn_detection_to_declare_seconds_sum{severity="SEV1"} 720.0' in metrics


async def test_the_form_takes_a_detection_time(bot: Bot) -> None:
    from tests.conftest import BOB

    view = bot.fh.presenter.declare_modal("C0GENERAL")
    earlier = int((bot.clock() - timedelta(minutes=20)).timestamp())
    values = {"title": {"type": "plain_text_input", "value": "Search empty"},
              "severity": {"type": "static_select", "selected_option": {"value": "SEV2"}},
              "detected": {"type": "datetimepicker", "selected_date_time": earlier}}
    later = int((bot.clock() + timedelta(hours=1)).timestamp())
    refused = await bot.slack.submit_view(user=BOB, view=view, values={
        **values, "detected": {"type": "datetimepicker", "selected_date_time": later}})
    assert refused.json()["errors"] == {
        "detected": "Pick a time in the last 30 days, not in the future."}
    reply = await bot.slack.submit_view(user=BOB, view=view, values=values)
    assert reply.status == 200
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert inc.detected_at == datetime.fromtimestamp(earlier, UTC)


# ----- Grafana and the generic source ----------------------------------------------------------
SECRET = "signing-secret-0123456789"


def grafana_body() -> dict[str, Any]:
    body = payload(group="{}:{alertname=\"High memory usage\"}", summary="Memory above 90%")
    return {**body, "version": "1", "orgId": 1, "title": "[FIRING:1]", "state": "alerting",
            "message": "**Firing**", "alerts": [{**body["alerts"][0], "silenceURL": "",
                                                 "dashboardURL": "", "panelURL": "",
                                                 "values": {"B": 91.2}}]}


async def send(bot: Bot, path: str, raw: bytes, headers: dict[str, str]) -> int:
    async with bot.session.post(f"{bot.url}{path}", data=raw, headers={
            "Content-Type": "application/json", **headers}) as r:
        return r.status


async def test_grafana_by_token_or_by_its_hmac_signature(make_bot: BotFactory) -> None:
    import hashlib
    import hmac as hmac_
    import time as time_

    bot = await make_bot(ALERTS_TOKEN=TOKEN, ALERTS_SIGNING_SECRET=SECRET,
                         GRAFANA_TIMESTAMP_HEADER="X-Grafana-Alerting-Signature-Timestamp")
    raw = json.dumps(grafana_body()).encode()
    assert await send(bot, "/alerts/grafana", raw, {"Authorization": f"Bearer {TOKEN}"}) == 200
    stamp = str(int(time_.time()))
    sig = hmac_.new(SECRET.encode(), f"{stamp}:".encode() + raw, hashlib.sha256).hexdigest()
    signed = {"X-Grafana-Alerting-Signature": sig,
              "X-Grafana-Alerting-Signature-Timestamp": stamp}
    assert await send(bot, "/alerts/grafana", raw, signed) == 200
    stale = str(int(time_.time()) - 600)
    old_sig = hmac_.new(SECRET.encode(), f"{stale}:".encode() + raw,
                        hashlib.sha256).hexdigest()
    assert await send(bot, "/alerts/grafana", raw, {
        "X-Grafana-Alerting-Signature": old_sig,
        "X-Grafana-Alerting-Signature-Timestamp": stale}) == 401
    assert await send(bot, "/alerts/grafana", raw + b" ", signed) == 401  # another body
    await settle(bot)
    [inc] = await bot.open_incidents()  # the two accepted ones are one group
    assert inc.title == "Memory above 90%"
    assert [o for _, o, _ in await notifications(bot)] == ["declared", "attached"]


async def test_the_generic_source_signed_with_hmac(make_bot: BotFactory) -> None:
    import hashlib
    import hmac as hmac_

    bot = await make_bot(ALERTS_SIGNING_SECRET=SECRET)
    body = {"title": "Nightly backup failed", "dedup_key": "backup-2026-11-26",
            "severity": "high", "description": "pg_dump exited 1",
            "labels": {"service": "db"},
            "links": [{"text": "Job log", "url": "https://ci.example/job/1"}]}
    raw = json.dumps(body).encode()
    good = "sha256=" + hmac_.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert await send(bot, "/alerts/webhook", raw, {"X-Foghorn-Signature": "sha256=00"}) == 401
    assert await send(bot, "/alerts/webhook", raw, {"X-Foghorn-Signature": good}) == 200
    bad = json.dumps({"dedup_key": "x"}).encode()
    bad_sig = "sha256=" + hmac_.new(SECRET.encode(), bad, hashlib.sha256).hexdigest()
    async with bot.session.post(f"{bot.url}/alerts/webhook", data=bad, headers={
            "X-Foghorn-Signature": bad_sig}) as r:
        assert r.status == 400 and (await r.json())["error"] == "title: Field required"
    await settle(bot)
    [inc] = await bot.open_incidents()
    assert (inc.title, inc.severity, inc.description) == ("Nightly backup failed", "SEV2",
                                                          "pg_dump exited 1")
    # Alertmanager's path needs ALERTS_TOKEN, which is not set here.
    status, _ = await post(bot, payload())
    assert status == 404


async def test_a_route_may_resolve_on_its_own(make_bot: BotFactory, tmp_path: Path) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["alert_routes"] = [{"action": "declare", "severity": "SEV3", "auto_resolve": True}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(ALERTS_TOKEN=TOKEN, playbooks=tmp_path)
    await post(bot, payload())
    await settle(bot)
    [inc] = await bot.open_incidents()
    resolved = [{**payload()["alerts"][0], "status": "resolved",
                 "endsAt": "2026-11-26T10:20:00Z"}]
    await post(bot, payload(status="resolved", alerts=resolved))
    await settle(bot)
    done = await bot.incident(inc.id)
    assert done.is_resolved and done.summary.startswith("Every alert of the group resolved")


async def test_an_alert_incident_nudges_the_channel_not_the_bot(make_bot: BotFactory) -> None:
    from tests.conftest import Clock

    clock = Clock(datetime(2026, 11, 26, 10, 5, tzinfo=UTC))
    bot = await make_bot(ALERTS_TOKEN=TOKEN, clock=clock)
    await post(bot, payload())
    await settle(bot)
    [inc] = await bot.open_incidents()
    bot.clock.now = inc.declared_at + timedelta(minutes=16)
    await bot.fire_due()
    [nudge] = [m.text for m in bot.fake.channels[inc.channel_id].messages
               if m.text.startswith(":wave:")]
    assert "<!here>: someone take it on the card" in nudge
    assert f"<@{inc.declared_by}>" not in nudge


async def test_changes_arriving_while_a_post_is_made_are_posted_too(alerting: Bot) -> None:
    await post(alerting, payload())
    await settle(alerting)
    [inc] = await alerting.open_incidents()
    alerting.fake.delay("chat.postMessage", 1.0)  # the coalesced post takes a while
    first = payload()["alerts"][0]

    def more(instance: str) -> dict[str, Any]:
        return payload(alerts=[first, {**first, "fingerprint": instance,
                                       "labels": {**first["labels"], "instance": instance}}])

    await post(alerting, more("api-2"))
    await asyncio.sleep(2.4)  # the post of api-2 has started and is waiting on Slack
    await post(alerting, more("api-3"))
    await settle(alerting)
    shown = "\n".join(m.text for m in alerting.fake.channels[inc.channel_id].messages)
    assert "(api-2)" in shown and "(api-3)" in shown
