"""Slack misbehaving: 5xx and 429 on any method, slow replies, failures past the retries."""

from __future__ import annotations

import asyncio

import pytest

from bot.store import entry_rows, repo
from tests.conftest import ALICE, BOB, GENERAL, Bot, BotFactory


async def _whole_incident(bot: Bot, title: str) -> None:
    inc, channel = await bot.declare(f"sev1 {title}")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.command("update identified found it", user=BOB, channel=inc.channel_id)
    await bot.command("resolve fixed", user=BOB, channel=inc.channel_id)
    stored = await bot.incident(inc.id)
    assert stored.is_resolved and stored.roles == {"ic": BOB}
    assert channel.pins == [inc.card_ts]
    texts = [m.text for m in channel.messages]
    assert sum("*UPDATE:*" in t for t in texts) == 1
    assert sum("*RESOLVED:*" in t for t in texts) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_every_method_failing_a_few_times_is_survived(bot: Bot, status: int) -> None:
    await bot.command("help")  # Bolt's auth.test first
    bot.fake.fail("*", status=status, times=3, retry_after=1)
    await _whole_incident(bot, f"Flaky {status}")
    assert len([c for c in bot.fake.calls if c.status == status]) == 3


async def test_slow_slack_everywhere(bot: Bot) -> None:
    await bot.command("help")
    bot.fake.delay("*", 2.0)
    await _whole_incident(bot, "Slow Slack")


async def test_a_failure_past_the_retries_keeps_the_record_and_says_so(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Stubborn")
    bot.fake.fail("chat.postMessage", status=500, times=4, when=lambda a: "blocks" not in a)
    await bot.command("update identified still digging", user=BOB, channel=inc.channel_id)
    assert "Saved, but Slack refused part of it" in bot.fake.responses[-1]["text"]
    stored = await bot.incident(inc.id)
    assert stored.status == "identified"  # the update is recorded all the same


async def test_a_declare_while_slack_is_unreachable_finishes_when_it_is_back(bot: Bot) -> None:
    """#24 item 2: the bot had served requests, then Slack became unreachable. Telling the
    declarer "queued" through response_url failed too, and that used to end the declare's
    retries: no channel until a restart."""
    await bot.command("help")
    bot.fake.unreachable = True
    reply = await bot.slack.command("declare sev1 Slack is away", user=ALICE, channel=GENERAL)
    assert reply.status == 200 and "Declaring" in reply.text
    await asyncio.sleep(4)  # Slack away a while: the declare is stored and waits
    inc = await bot.incident(1)
    assert inc.channel_id is None and not inc.setup_done
    bot.fake.unreachable = False
    for _ in range(300):
        if (await bot.incident(inc.id)).setup_done:
            break
        await asyncio.sleep(0.05)
    await bot.settle()
    done = await bot.incident(inc.id)
    assert done.setup_done and done.channel_id
    assert any("INC-1 declared as SEV1" in r.get("text", "") for r in bot.fake.responses)


@pytest.mark.slack_refusals
@pytest.mark.parametrize("away", ["unreachable", "503"])
async def test_requests_are_stored_and_answered_before_slack_has_ever_answered(
        make_bot: BotFactory, sqlite_url: str, away: str) -> None:
    """#24 item 2: a bot that started while Slack was away used to ask Slack (auth.test,
    through Bolt's authorization) on its first request: unreachable gave 500, a 503 gave
    "your installation is no longer available", and the declare and the message event were
    lost. Nothing on the request path asks Slack now."""
    first = await make_bot()
    inc, _ = await first.declare("sev2 Before the outage")
    await first.stop()
    if away == "unreachable":
        first.fake.unreachable = True
    else:
        first.fake.fail("*", status=503, times=100_000)
    bot = await make_bot(database_url=sqlite_url, clock=first.clock)
    assert not bot.fh.health.slack_answered  # start-up could not ask Slack
    _, reply = await bot.slack.say(inc.channel_id, BOB, "said while Slack is away")
    assert reply.status == 200
    reply = await bot.slack.command("declare sev1 During the outage", user=ALICE,
                                    channel=GENERAL)
    assert reply.status == 200 and "Declaring *During the outage*" in reply.text
    assert "no longer available" not in reply.text
    async with bot.fh.db.read() as s:
        stored = [e.text for e in await entry_rows.list_entries(s, inc.id)]
        second = await repo.get_incident(s, 2)
    assert "said while Slack is away" in stored
    assert second is not None and second.title == "During the outage"
    bot.fake.unreachable = False  # Slack is back: the declare finishes on its own
    bot.fake._faults.clear()
    for _ in range(400):
        if (await bot.incident(2)).setup_done:
            break
        await asyncio.sleep(0.05)
    assert (await bot.incident(2)).channel_id
