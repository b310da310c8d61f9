"""Status updates, severity changes and resolving."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.store import entry_rows
from tests.conftest import BOB, GENERAL, Bot


def _last(channel, marker: str) -> str:
    """The newest message containing `marker` (checklists may follow it)."""
    return next(m.text for m in reversed(channel.messages) if marker in m.text)


async def test_update_posts_the_seed_message_and_updates_card_and_topic(bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 Checkout down")
    bot.clock.now += timedelta(minutes=7)
    ack = await bot.command("update identified Bad deploy v1.43, rolling back", user=BOB,
                            channel=inc.channel_id)
    assert ack == ""
    update = _last(channel, "*UPDATE:*")
    assert "*UPDATE:* Checkout down" in update
    assert "*Status:* :bulb: Identified" in update
    assert "*What we know:* Bad deploy v1.43, rolling back" in update
    next_due = bot.fh.presenter.when(bot.clock() + timedelta(minutes=30))
    assert f"*Next update:* {next_due} (every 30m)" in update

    stored = await bot.incident(inc.id)
    assert stored.status == "identified" and stored.last_update_at == bot.clock()
    assert "Identified" in json.dumps(channel.message(inc.card_ts).blocks)
    assert channel.topic.startswith("SEV1 · Identified")
    async with bot.fh.db.read() as s:
        entry = (await entry_rows.list_entries(s, inc.id))[-1]
    assert (entry.kind, entry.text, entry.data["status"]) == (
        "status_update", "Bad deploy v1.43, rolling back", "identified")


async def test_update_bad_input(bot: Bot) -> None:
    inc, channel = await bot.declare()
    before = len(channel.messages)
    assert "Unknown status `fixed`" in await bot.command("update fixed yay",
                                                         channel=inc.channel_id)
    assert "/incident resolve" in await bot.command("update resolved done",
                                                    channel=inc.channel_id)
    assert "Add what you know" in await bot.command("update monitoring",
                                                    channel=inc.channel_id)
    await bot.command("update identified found it", channel=GENERAL)
    assert "works inside an incident channel" in bot.fake.responses[-1]["text"]
    assert len(channel.messages) == before
    assert (await bot.incident(inc.id)).status == "investigating"


async def test_update_text_is_never_live(bot: Bot) -> None:
    inc, channel = await bot.declare()
    await bot.command("update identified <!everyone> ask <@UBOB|bob> &lt;script&gt;",
                      channel=inc.channel_id)
    text = _last(channel, "*UPDATE:*")
    assert "<!everyone>" not in text and "<@UBOB" not in text
    assert "@everyone ask @bob &lt;script&gt;" in text


async def test_severity_change_updates_card_topic_and_says_so(bot: Bot) -> None:
    inc, channel = await bot.declare("sev3 Slow search")
    await bot.command("severity SEV-1", user=BOB, channel=inc.channel_id)
    stored = await bot.incident(inc.id)
    assert stored.severity == "SEV1"
    said = channel.messages[-1].text
    assert "Severity changed from *SEV3 (Minor)* to *SEV1 (Critical)*" in said
    assert "(every 30m)" in said
    assert channel.topic.startswith("SEV1 ·")
    assert "SEV1 (Critical)" in json.dumps(channel.message(inc.card_ts).blocks)

    ack = await bot.command("severity sev9", channel=inc.channel_id)
    assert "Unknown severity `sev9`" in ack
    await bot.command("severity p0", channel=inc.channel_id)
    assert "already SEV1" in bot.fake.responses[-1]["text"]


async def test_resolve_posts_resolution_marks_card_and_announces(bot: Bot) -> None:
    inc, channel = await bot.declare("sev1 Checkout down")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    bot.clock.now += timedelta(hours=1, minutes=25)
    await bot.command("resolve Rolled back to v1.42", user=BOB, channel=inc.channel_id)

    stored = await bot.incident(inc.id)
    assert stored.is_resolved and stored.resolved_by == BOB
    assert stored.summary == "Rolled back to v1.42"
    resolution = _last(channel, "*RESOLVED:*")
    for part in ("*RESOLVED:* Checkout down", "*Duration:* 1h 25m",
                 "*Summary:* Rolled back to v1.42", "required for this severity"):
        assert part in resolution
    assert any("*RESOLVED:* Checkout down" in a for a in bot.announcements)
    card = channel.message(inc.card_ts).blocks
    assert ":white_check_mark: Resolved" in json.dumps(card)
    assert not [b for b in card if b["type"] == "actions"], "a resolved card has no buttons"
    assert "Resolved" in channel.topic
    assert await bot.open_incidents() == []

    await bot.command("resolve again", channel=inc.channel_id)
    assert "already resolved" in bot.fake.responses[-1]["text"]
    await bot.command("update monitoring still fine", channel=inc.channel_id)
    assert "already resolved" in bot.fake.responses[-1]["text"]


async def test_private_incident_resolution_is_not_announced(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 --private Leaked key")
    await bot.command("resolve rotated", channel=inc.channel_id)
    assert bot.announcements == []


async def test_list_shows_open_incidents_most_severe_first(bot: Bot) -> None:
    assert "No open incidents" in await bot.command("list")
    await bot.declare("sev3 Minor thing")
    major, _ = await bot.declare("sev1 Major thing")
    secret, _ = await bot.declare("sev1 --private Secret thing", user=BOB)
    await bot.command("role ic me", user=BOB, channel=major.channel_id)
    listing = await bot.command("list")
    assert listing.index("Major thing") < listing.index("Minor thing")
    assert f"<#{major.channel_id}>" in listing and f"IC: <@{BOB}>" in listing
    assert "Secret thing" not in listing
    assert "Secret thing" in await bot.command("list", user=BOB)
    assert secret.is_private
