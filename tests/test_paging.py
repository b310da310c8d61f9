"""Paging out (#19): PagerDuty and Opsgenie targets in the playbook and `/incident page`,
against fakes that answer as the vendors' documented APIs do."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError
from bot.store import entry_rows
from bot.testing.fake_pagers import FakeOpsgenie, FakePagerDuty
from tests.conftest import BOB, ROOT, Bot, BotFactory

PD_KEY = "pd-routing-key-payments-0001"
GENIE_KEY = "genie-key-sre-team-0001"
DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


@pytest.fixture
async def pagers() -> AsyncIterator[tuple[FakePagerDuty, FakeOpsgenie]]:
    pd, og = FakePagerDuty({PD_KEY}), FakeOpsgenie({GENIE_KEY})
    await pd.start()
    await og.start()
    yield pd, og
    await pd.stop()
    await og.stop()


@pytest.fixture
async def paging(make_bot: BotFactory, pagers: tuple[FakePagerDuty, FakeOpsgenie],
                 tmp_path: Path) -> Bot:
    pd, og = pagers
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0]["notify"] = ["opsgenie:sre"]
    pb["severities"][0]["escalation"] = [{"after": "15m",
                                          "notify": ["#incidents", "pagerduty:payments"],
                                          "note": "Page the payments on-call"}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path, PAGERDUTY_KEYS=f"payments={PD_KEY}",
                         PAGERDUTY_URL=pd.url, OPSGENIE_KEYS=f"sre={GENIE_KEY}",
                         OPSGENIE_URL=og.url)
    assert bot.fh.pager is not None

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    bot.fh.pager.sleep = no_wait  # the backoff's waits, not its tries, are skipped
    return bot


async def settle(bot: Bot) -> None:
    await bot.settle()


def said(bot: Bot, channel: str, start: str) -> list[str]:
    return [m.text for m in bot.fake.channels[channel].messages if m.text.startswith(start)]


async def test_declare_and_escalation_page_once_and_resolve_closes_the_pages(
        paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]) -> None:
    pd, og = pagers
    inc, _ = await paging.declare("sev1 Checkout down")
    await settle(paging)
    [alert] = og.received
    assert alert.status == 202 and alert.body["alias"] == f"foghorn-{inc.id}-declare"
    assert alert.body["message"] == "INC-1 SEV1 (Critical): Checkout down"
    assert alert.body["priority"] == "P1"
    assert said(paging, inc.channel_id, ":pager: Paged Opsgenie sre for INC-1.")
    paging.clock.now = inc.declared_at + timedelta(minutes=15)
    await paging.fire_due()
    await settle(paging)
    [trigger] = pd.received
    assert trigger.status == 202
    assert trigger.body["routing_key"] == PD_KEY and trigger.body["event_action"] == "trigger"
    assert trigger.body["dedup_key"] == f"foghorn-{inc.id}-escalation-0"
    assert trigger.body["payload"]["severity"] == "critical"
    assert trigger.body["payload"]["custom_details"]["details"] == "Page the payments on-call"
    assert trigger.body["links"][0]["href"].endswith(f"channel={inc.channel_id}")
    # The same step again (a restart, another replica): nobody is paged twice.
    await paging.fh.service.page_targets(inc, ("pagerduty:payments",), key="escalation-0",
                                         reason="again")
    await settle(paging)
    assert len(pd.received) == 1
    async with paging.fh.db.read() as s:
        pages = [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "page"]
    assert [e.data["target"] for e in pages] == ["opsgenie:sre", "pagerduty:payments"]

    await paging.command("resolve Rolled back", channel=inc.channel_id)
    await settle(paging)
    assert pd.received[-1].body["event_action"] == "resolve"
    assert pd.received[-1].body["dedup_key"] == f"foghorn-{inc.id}-escalation-0"
    assert og.received[-1].path == f"/v2/alerts/foghorn-{inc.id}-declare/close"
    assert pd.open == {} and og.open == {}


async def test_a_rate_limited_page_is_retried_and_the_channel_hears(
        paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]) -> None:
    _, og = pagers
    og.fail(429, times=2)
    inc, _ = await paging.declare("sev1 Checkout down")
    await settle(paging)
    assert [r.status for r in og.received] == [429, 429, 202]
    assert said(paging, inc.channel_id, ":warning: Paging Opsgenie sre failed (HTTP 429")
    assert said(paging, inc.channel_id, ":pager: Paged Opsgenie sre for INC-1.")


async def test_a_refused_page_is_not_retried_and_never_blocks_the_incident(
        make_bot: BotFactory, pagers: tuple[FakePagerDuty, FakeOpsgenie],
        tmp_path: Path) -> None:
    pd, _ = pagers
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][0]["notify"] = ["pagerduty:payments"]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path, PAGERDUTY_KEYS="payments=not-the-right-key",
                         PAGERDUTY_URL=pd.url)
    inc, channel = await bot.declare("sev1 Checkout down")
    await bot.settle()
    assert [r.status for r in pd.received] == [400]  # once: a refusal is not retried
    [failed] = said(bot, inc.channel_id, ":x: Could not page PagerDuty payments for INC-1")
    assert "'routing_key' is invalid" in failed and "Reach them another way" in failed
    assert channel.pins  # the incident itself went ahead
    await bot.command("resolve Fixed", channel=inc.channel_id)
    assert (await bot.incident(inc.id)).is_resolved


async def test_page_on_demand(paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]
                              ) -> None:
    pd, _ = pagers
    inc, _ = await paging.declare("sev2 Search slow")
    await paging.command("page pagerduty:payments Need a payments engineer", user=BOB,
                         channel=inc.channel_id)
    await settle(paging)
    [trigger] = pd.received
    assert trigger.body["payload"]["custom_details"]["details"] == "Need a payments engineer"
    assert trigger.body["payload"]["severity"] == "error"  # SEV2
    reply = await paging.command("page bob", channel=inc.channel_id)
    assert reply.startswith("Page whom? `/incident page <pagerduty:service | opsgenie:team>")


async def test_a_playbook_paging_a_service_without_a_key_stops_start_up(
        make_bot: BotFactory, tmp_path: Path) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["severities"][1]["escalation"] = [{"after": "1h", "notify": ["pagerduty:billing"]}]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    with pytest.raises(ConfigError) as err:
        await make_bot(playbooks=tmp_path, PAGERDUTY_KEYS=f"payments={PD_KEY}")
    assert str(err.value) == ("PAGERDUTY_KEYS has no key for 'billing', which the playbook "
                              "pages at severities[1].escalation[0].notify[0] "
                              "(pagerduty:billing)")


async def test_pager_keys_never_reach_the_logs(paging: Bot, caplog: pytest.LogCaptureFixture,
                                               pagers: tuple[FakePagerDuty, FakeOpsgenie]
                                               ) -> None:
    _, og = pagers
    caplog.set_level(logging.DEBUG)
    og.fail(503, times=1)
    await paging.declare("sev1 Checkout down")
    await settle(paging)
    logging.getLogger("test").warning("the key is %s", GENIE_KEY)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert GENIE_KEY not in text and PD_KEY not in text
    assert "the key is [redacted]" in text


async def test_paging_a_service_without_a_key_is_refused_before_anything_is_stored(
        paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]) -> None:
    pd, _ = pagers
    inc, _ = await paging.declare("sev2 Search slow")
    await paging.command("page pagerduty:billing Need billing", channel=inc.channel_id)
    await settle(paging)
    assert paging.fake.responses[-1]["text"] == (
        "`pagerduty:billing` has no key here. Pagers: `pagerduty:payments`, `opsgenie:sre`.")
    assert pd.received == []
    async with paging.fh.db.read() as s:
        assert [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "page"] == []


# ----- resolving closes every page, whatever Slack is doing (#23, #24) -----------------------
@pytest.mark.slack_refusals
async def test_slack_failing_while_resolving_still_resolves_the_pages(
        paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]) -> None:
    _, og = pagers
    inc, _ = await paging.declare("sev1 Checkout down")
    await settle(paging)
    assert list(og.open) == [f"foghorn-{inc.id}-declare"]
    paging.fake.fail("chat.postMessage", status=500, times=1000)  # Slack down for posts
    await paging.command("resolve Rolled back", channel=inc.channel_id)
    assert "Saved, but Slack refused part of it" in paging.fake.responses[-1]["text"]
    assert (await paging.incident(inc.id)).is_resolved
    assert og.open == {}  # closed all the same
    assert og.received[-1].path == f"/v2/alerts/foghorn-{inc.id}-declare/close"


async def test_a_page_waiting_for_its_retry_at_resolve_is_closed_once_it_lands(
        paging: Bot, pagers: tuple[FakePagerDuty, FakeOpsgenie]) -> None:
    """The page's first try got 503; while it waited to try again, the incident was
    resolved. The retry landed, and the page must not stay open."""
    _, og = pagers
    og.fail(503, times=1)
    waiting, release = asyncio.Event(), asyncio.Event()

    async def held(_: float) -> None:
        waiting.set()
        await release.wait()

    assert paging.fh.pager is not None
    paging.fh.pager.sleep = held
    await paging.slack.command("declare sev1 Checkout down", user=BOB, channel="C0GENERAL")
    await asyncio.wait_for(waiting.wait(), 10)  # the page's first try failed; it waits
    [inc] = await paging.open_incidents()
    reply = await paging.slack.command("resolve Fixed", user=BOB, channel=inc.channel_id)
    assert reply.status == 200
    for _ in range(200):
        if (await paging.incident(inc.id)).is_resolved:
            break
        await asyncio.sleep(0.05)
    assert (await paging.incident(inc.id)).is_resolved
    release.set()  # the retry goes through now
    await settle(paging)
    assert [r.status for r in og.received[:2]] == [503, 202]
    assert og.open == {}
    assert og.received[-1].path == f"/v2/alerts/foghorn-{inc.id}-declare/close"
