"""A declare that Slack interrupts is completed on restart, never repeated."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store import repo
from tests.conftest import Bot, BotFactory


async def test_a_card_slack_keeps_failing_is_queued_then_finished_once(bot: Bot) -> None:
    # 500 answers outlast slack_sdk's server-error retries (1 try + 3 retries).
    bot.fake.fail("chat.postMessage", status=500, times=4, when=lambda args: "blocks" in args)
    await bot.command("declare sev1 Card trouble")
    told = [r["text"] for r in bot.fake.responses]
    assert any("INC-1 is saved. Slack is holding back (http_500)" in t for t in told)
    assert "INC-1 declared as SEV1" in told[-1]
    [inc] = await bot.open_incidents()
    channel = bot.fake.channels[inc.channel_id]
    assert inc.setup_done and channel.pins == [inc.card_ts]
    assert len(bot.fake.calls_to("conversations.create")) == 1
    incident_channels = [c for c in bot.fake.channels.values() if c.name.startswith("incident-")]
    assert incident_channels == [channel]
    assert sum("INCIDENT DECLARED" in a for a in bot.announcements) == 1
    assert sum(1 for m in channel.messages if m.blocks and m.ts == inc.card_ts) == 1


async def test_crash_before_the_channel_is_finished_on_restart(
    make_bot: BotFactory, sqlite_url: str
) -> None:
    """A row with no channel yet (the process died right after storing it) is completed."""
    bot: Bot = await make_bot()
    now = datetime.now(UTC)
    async with bot.fh.db.write() as s:
        await repo.insert_incident(s, title="Half made", severity="SEV2", status="investigating",
                                   is_private=False, setup_done=False, declared_by="UALICE",
                                   declared_at=now, last_update_at=now)
    await bot.stop()
    restarted = await make_bot(database_url=sqlite_url)
    [inc] = await restarted.open_incidents()
    assert inc.title == "Half made" and inc.channel_id and inc.card_ts
    assert bot.fake.channels[inc.channel_id].pins == [inc.card_ts]


async def test_a_channel_created_just_before_a_crash_is_adopted_not_doubled(
    make_bot: BotFactory, sqlite_url: str
) -> None:
    """The process died after conversations.create but before storing the channel's ID."""
    bot: Bot = await make_bot()
    now = bot.clock()
    async with bot.fh.db.write() as s:
        await repo.insert_incident(s, title="Orphan risk", severity="SEV2",
                                   status="investigating", is_private=False, setup_done=False,
                                   declared_by="UALICE", declared_at=now, last_update_at=now)
    name = f"incident-{now:%Y%m%d}-orphan-risk"
    left_behind = bot.fake.m_conversations_create({"name": name})["channel"]["id"]
    bot.fake.add_channel(f"incident-{now:%Y%m%d}-unrelated")  # made by a person: not ours
    await bot.stop()
    restarted = await make_bot(database_url=sqlite_url, clock=bot.clock)
    [inc] = await restarted.open_incidents()
    assert inc.channel_id == left_behind and inc.channel_name == name
    assert [c.name for c in bot.fake.channels.values() if "orphan" in c.name] == [name]
