"""Alert intake never stalls (#23, #24): a notification that cannot be processed is tried
again with backoff and then parked, visible, while every other notification goes on; one
that failed once is tried again by the bot itself, without waiting for another to arrive."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from bot.slack.text import link
from bot.store.tables import AlertNotificationRow
from bot.testing.fake_slack import INCIDENTS_CHANNEL_ID
from tests.conftest import BOB, Bot, BotFactory
from tests.processes import foghorn
from tests.test_alerts import TOKEN, _mrkdwn, notifications, payload, post, settle


def _other_group(summary: str = "Payments latency above 2s") -> dict[str, Any]:
    body = payload(group='{}:{alertname="PaymentsLatency"}', summary=summary)
    for where in (body["groupLabels"], body["commonLabels"], body["alerts"][0]["labels"]):
        where["alertname"] = "PaymentsLatency"
    body["alerts"][0]["fingerprint"] = "beef"
    return body


async def health(bot: Bot) -> dict[str, Any]:
    async with bot.session.get(f"{bot.url}/healthz") as r:
        return dict(await r.json())


async def test_a_blank_summary_falls_back_to_the_alertname_and_stops_nothing(
        make_bot: BotFactory) -> None:
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    status, _ = await post(bot, payload(summary="   \t "))
    assert status == 200
    status, _ = await post(bot, _other_group())
    assert status == 200
    await settle(bot)
    titles = sorted(i.title for i in await bot.open_incidents())
    assert titles == ["CheckoutErrors", "Payments latency above 2s"]
    shown = "\n".join(m.text for i in await bot.open_incidents()
                      for m in bot.fake.channels[i.channel_id].messages)
    assert "firing: CheckoutErrors (api-1)" in shown


async def test_a_notification_that_cannot_be_processed_is_parked_and_blocks_nothing(
        make_bot: BotFactory) -> None:
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    # A stored notification this version cannot read (as a crash mid-write, or an older
    # Foghorn, might leave): processing it fails every time.
    async with bot.fh.db.write() as s:
        await s.execute(insert(AlertNotificationRow).values(
            source="alertmanager", group_hash="0" * 64, status="firing",
            payload={"version": "4", "groupKey": "broken"}, received_at=bot.clock()))
    status, _ = await post(bot, payload())
    assert status == 200
    await settle(bot)
    [inc] = await bot.open_incidents()  # the alert behind it got its incident at once
    assert inc.title == "Checkout error rate above 5%"
    assert (await health(bot))["alerts_waiting"] == 1
    for _ in range(6):  # tried again with backoff (the clock moves instead of waiting)
        bot.clock.now += timedelta(minutes=5)
        assert bot.fh.alerts is not None
        await bot.fh.alerts.process_pending()
        await settle(bot)
    assert [o for _, o, _ in await notifications(bot)] == ["parked", "declared"]
    seen = await health(bot)
    assert (seen["alerts_waiting"], seen["alerts_parked"]) == (0, 1)
    async with bot.session.get(f"{bot.url}/metrics") as r:
        text = await r.text()
    assert "foghorn_alert_notifications_parked 1.0" in text
    code, out, _ = await foghorn({"DATABASE_URL": bot.fh.settings.DATABASE_URL}, "outbox")
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith("a1\tparked\talert-intake\t") and "attempts=5" in line
    assert "PayloadError: status: Field required" in line


async def test_a_notification_that_failed_once_is_tried_again_by_the_bot_itself(
        make_bot: BotFactory) -> None:
    bot = await make_bot(ALERTS_TOKEN=TOKEN, schedule=True)
    intake = bot.fh.alerts
    assert intake is not None
    intake.retry_interval = 0.1
    decide = intake._decide
    failures = []

    def once(s: Any, notification_id: int, by: str) -> Any:
        if not failures:
            failures.append(notification_id)
            raise TimeoutError("the group's lock was held past DATABASE_TIMEOUT")
        return decide(s, notification_id, by)

    intake._decide = once  # type: ignore[method-assign]  # the fault, injected
    status, _ = await post(bot, payload())
    assert status == 200
    await settle(bot)
    assert await bot.open_incidents() == []
    assert (await health(bot))["alerts_waiting"] == 1
    bot.clock.now += timedelta(seconds=3)  # past the first backoff; nothing else arrives
    for _ in range(100):
        if await bot.open_incidents():
            break
        await asyncio.sleep(0.05)
    await settle(bot)
    [inc] = await bot.open_incidents()
    assert inc.channel_id and failures == [1]
    assert (await health(bot))["alerts_waiting"] == 0


@pytest.mark.slack_refusals
async def test_a_triage_post_slack_refused_once_is_posted_later_and_the_group_stays_alive(
        make_bot: BotFactory) -> None:
    """#24 item 1: one failed chat.postMessage (503s past the gateway's retries) at the
    moment of the triage post used to mark the alert triaged, never posted, and silence
    its group for good."""
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    bot.fake.fail("chat.postMessage", status=503, times=4)
    status, _ = await post(bot, payload(group="g1", severity="warning", summary="Disk filling"))
    assert status == 200
    await settle(bot)
    assert bot.fake.channels[INCIDENTS_CHANNEL_ID].messages == []  # Slack refused it
    assert [o for _, o, _ in await notifications(bot)] == ["triage"]
    bot.clock.now += timedelta(seconds=30)  # the relay tries again after its backoff
    await bot.fh.relay.run_due()
    await settle(bot)
    [triage] = bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
    assert "Alert to triage (SEV3): Disk filling" in triage.text
    await bot.fh.relay.run_due()  # nothing left: posted once
    await settle(bot)
    assert len(bot.fake.channels[INCIDENTS_CHANNEL_ID].messages) == 1
    # The group is alive: its buttons work.
    await bot.slack.click(user=BOB, channel=INCIDENTS_CHANNEL_ID, message_ts=triage.ts,
                          action_id="alert_declare")
    await settle(bot)
    [inc] = await bot.open_incidents()
    assert inc.title == "Disk filling"


EVIL = "https://ok.example/|Runbook><!channel><https://evil.example"


async def test_alert_links_never_ping_or_hide_a_link(make_bot: BotFactory) -> None:
    """#24 item 5: a generatorURL pasted into a Slack link made a live <!channel> and a
    hidden link in the #incidents triage post."""
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    body = payload(group="g-links", severity="warning", summary="Disk filling")
    body["alerts"][0]["generatorURL"] = EVIL
    body["alerts"].append({**body["alerts"][0], "fingerprint": "js",
                           "generatorURL": "javascript:alert(1)",
                           "labels": {**body["alerts"][0]["labels"], "instance": "api-2"}})
    assert (await post(bot, body))[0] == 200
    await settle(bot)
    [triage] = bot.fake.channels[INCIDENTS_CHANNEL_ID].messages
    shown = "\n".join([triage.text, *_mrkdwn(triage.blocks)])
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "javascript:" not in shown
    # The link is still there, whole, and goes where the alert said.
    assert "<https://ok.example/%7CRunbook&gt;&lt;!channel&gt;&lt;https://evil.example|" in shown


def test_one_helper_makes_every_outside_link_safe() -> None:
    assert link("https://grafana.example/d/1?a=1&b=2", "Dash") == (
        "<https://grafana.example/d/1?a=1&amp;b=2|Dash>")
    assert link(EVIL, "x").count("<") == 1 and link(EVIL, "x").count(">") == 1
    for bad in ("javascript:alert(1)", "ftp://files.example/x", "https://", "http://a b/",
                "https://ok.example/\n<!here>", "slack://channel?id=C1", ""):
        assert link(bad, "label") == "label", bad


SECRET = "generic-signing-secret-0123456789"


def _signed(body: dict[str, Any], stamp: int | None) -> tuple[bytes, dict[str, str]]:
    import hashlib
    import hmac
    import json

    raw = json.dumps(body).encode()
    material = raw if stamp is None else f"{stamp}.".encode() + raw
    headers = {"X-Foghorn-Signature": "sha256=" + hmac.new(
        SECRET.encode(), material, hashlib.sha256).hexdigest()}
    if stamp is not None:
        headers["X-Foghorn-Timestamp"] = str(stamp)
    return raw, headers


async def _send(bot: Bot, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with bot.session.post(f"{bot.url}/alerts/webhook", data=raw,
                                headers=headers) as r:
        return r.status, await r.json()


@pytest.mark.parametrize("stamped", [True, False])
async def test_a_replayed_generic_webhook_is_stored_once(make_bot: BotFactory,
                                                         stamped: bool) -> None:
    """#24 item 6: one captured request sent 100 times gave 100 notifications, and replayed
    after its incident was resolved opened a new SEV1 incident."""
    import time

    bot = await make_bot(ALERTS_SIGNING_SECRET=SECRET)
    body = {"title": "Checkout down", "dedup_key": "checkout", "severity": "critical"}
    raw, headers = _signed(body, int(time.time()) if stamped else None)
    answers = [await _send(bot, raw, headers) for _ in range(100)]
    assert answers[0] == (200, {"ok": True, "stored": 1})
    assert {a for a, _ in answers} == {200}
    assert [b for _, b in answers[1:]] == [{"ok": True, "duplicate": True}] * 99
    await settle(bot)
    assert len(await notifications(bot)) == 1
    [inc] = await bot.open_incidents()
    await bot.command("resolve Fixed", channel=inc.channel_id)
    assert await _send(bot, raw, headers) == (200, {"ok": True, "duplicate": True})
    await settle(bot)
    assert await bot.open_incidents() == []  # no new incident from the replay
    async with bot.session.get(f"{bot.url}/metrics") as r:
        assert 'foghorn_rejected_requests_total{reason="alert_replayed"} 100.0' in (
            await r.text())


async def test_a_generic_webhook_outside_its_time_window_is_refused(
        make_bot: BotFactory) -> None:
    import time

    bot = await make_bot(ALERTS_SIGNING_SECRET=SECRET)
    body = {"title": "Old news", "dedup_key": "old"}
    for stamp in (int(time.time()) - 301, int(time.time()) + 301):
        raw, headers = _signed(body, stamp)
        assert (await _send(bot, raw, headers))[0] == 401
    raw, headers = _signed(body, int(time.time()))
    headers["X-Foghorn-Timestamp"] = str(int(time.time()) - 1)  # not what was signed
    assert (await _send(bot, raw, headers))[0] == 401
    # A sender's own delivery id makes two signings of one notification one delivery.
    first, one = _signed(body, int(time.time()))
    second, two = _signed(body, int(time.time()) + 1)
    assert (await _send(bot, first, {**one, "X-Foghorn-Delivery": "n-1"}))[0] == 200
    assert (await _send(bot, second, {**two, "X-Foghorn-Delivery": "n-1"}))[1] == {
        "ok": True, "duplicate": True}
    assert len(await notifications(bot)) == 1


@pytest.mark.slack_refusals
async def test_alert_changes_slack_refused_are_posted_later_once(make_bot: BotFactory) -> None:
    """The coalesced post of a group's changes was made in memory: a Slack failure (or a
    restart) lost it. It is an event now, retried until posted, and posted once."""
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    assert (await post(bot, payload()))[0] == 200
    await settle(bot)
    [inc] = await bot.open_incidents()
    first = payload()["alerts"][0]
    second = {**first, "fingerprint": "api-2",
              "labels": {**first["labels"], "instance": "api-2"}}
    bot.fake.fail("chat.postMessage", status=503, times=4,
                  when=lambda a: "foghorn_alert_changes" in str(a.get("metadata", "")))
    assert (await post(bot, payload(alerts=[first, second])))[0] == 200
    await settle(bot)
    channel = bot.fake.channels[inc.channel_id]
    assert not [m for m in channel.messages if "(api-2)" in m.text]  # refused
    bot.clock.now += timedelta(minutes=1)
    await bot.fh.relay.run_due()
    await settle(bot)
    await bot.fh.relay.run_due()
    await settle(bot)
    assert len([m for m in channel.messages if "(api-2)" in m.text]) == 1
