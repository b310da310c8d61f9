"""An incident channel that changes under Foghorn: archived, Foghorn removed, the card deleted.

Before: reminders into such a channel were retried every 30 s forever, nobody was told, an
escalation never reached #incidents because its in-channel post failed first, people were
told to "try again in a moment", and a deleted card was never posted again.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bot.store import reminder_rows
from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, TEAM_ID
from tests.conftest import ALICE, BOB, Bot
from tests.test_reminders import at, said


def _dms(bot: Bot, user: str) -> list[str]:
    return [m.text for m in bot.fake.messages_in("D" + user)]


def _posts_into(bot: Bot, channel: str) -> int:
    return len([c for c in bot.fake.calls_to("chat.postMessage")
                if c.args.get("channel") == channel])


async def _pending(bot: Bot, incident_id: int) -> list[str]:
    async with bot.fh.db.read() as s:
        return [r.kind for r in await reminder_rows.pending_reminders(s, incident_id)]


async def test_an_archived_channel_pauses_reminders_tells_people_once_and_resumes(
        bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 Archived under us")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await at(bot, inc, 1)
    channel.is_archived = True  # someone archives it; Foghorn is not told yet
    await at(bot, inc, 15)  # the SEV1 escalation: its in-channel post fails
    escalations = [t for t in bot.announcements if "*Escalation:*" in t]
    assert len(escalations) == 1  # #incidents still heard
    for person in (ALICE, BOB):
        [told] = [t for t in _dms(bot, person) if "can no longer post" in t]
        assert "it was archived" in told and "Unarchive" in told
    assert sum("can no longer post" in t for t in bot.announcements) == 1
    tried = _posts_into(bot, inc.channel_id)
    await at(bot, inc, 30)
    await at(bot, inc, 31)  # (before: retried every 30 s)
    await at(bot, inc, 95)
    assert _posts_into(bot, inc.channel_id) == tried  # nothing tried into it any more
    assert "update" not in await _pending(bot, inc.id)
    assert sum("can no longer post" in t for t in _dms(bot, BOB)) == 1  # told once
    channel.is_archived = False
    now = f"{time.time():.6f}"
    reply = await bot.slack.event({"type": "channel_unarchive", "channel": inc.channel_id,
                                   "user": ALICE, "event_ts": now})
    assert reply.status == 200
    await bot.settle()
    assert "update" in await _pending(bot, inc.id)
    await at(bot, inc, 96)
    assert said(bot, inc.channel_id, "Reminder:")  # the cadence is back


async def test_foghorn_removed_from_the_channel_says_so_and_comes_back_when_invited(
        bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 Kicked out")
    channel.members.discard(BOT_USER_ID)
    reply = await bot.slack.event({"type": "member_left_channel", "user": BOT_USER_ID,
                                   "channel": inc.channel_id, "channel_type": "C",
                                   "team": TEAM_ID, "event_ts": f"{time.time():.6f}"})
    assert reply.status == 200
    await bot.settle()
    assert any("Foghorn was removed from it" in t for t in _dms(bot, ALICE))
    await bot.command("update identified found it", channel=inc.channel_id)
    told = bot.fake.responses[-1]["text"]
    assert "cannot post in the incident channel (not_in_channel)" in told
    assert "try again in a moment" not in told
    # Someone leaving is not Foghorn leaving.
    await bot.slack.event({"type": "member_left_channel", "user": BOB,
                           "channel": inc.channel_id, "channel_type": "C", "team": TEAM_ID,
                           "event_ts": f"{time.time():.6f}"})
    channel.members.add(BOT_USER_ID)
    await bot.slack.event({"type": "member_joined_channel", "user": BOT_USER_ID,
                           "channel": inc.channel_id, "channel_type": "C", "team": TEAM_ID,
                           "inviter": ALICE, "event_ts": f"{time.time():.6f}"})
    await bot.settle()
    assert (await bot.incident(inc.id)).channel_lost is None


async def test_a_deleted_card_is_posted_and_pinned_again(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 Card gone")
    bot.fake.human_delete(inc.channel_id, inc.card_ts)
    channel.pins.clear()
    await bot.command("update identified found it", channel=inc.channel_id)
    stored = await bot.incident(inc.id)
    assert stored.card_ts != inc.card_ts and channel.pins == [stored.card_ts]
    card = channel.message(stored.card_ts)
    assert card is not None and card.blocks == bot.fh.presenter.card(stored)[1]


async def test_a_private_incidents_lost_channel_is_told_by_dm_only(bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 --private Secret channel archived")
    channel.is_archived = True
    bot.clock.now = inc.declared_at + timedelta(minutes=30)
    await bot.fire_due()
    assert any("can no longer post" in t for t in _dms(bot, ALICE))
    assert not any("Secret channel" in m.text
                   for m in bot.fake.channels[INCIDENTS_CHANNEL_ID].messages)
