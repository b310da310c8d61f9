"""`/incident declare` end to end: signed HTTP in, fake Slack over HTTP out, real SQLite."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from bot.config import ConfigError
from bot.incidents.model import TITLE_LIMIT
from bot.slack import blocks
from bot.store import entry_rows, repo
from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID
from tests.conftest import ALICE, BOB, GENERAL, Bot, BotFactory, Clock


def _card_blocks(bot: Bot, channel_id: str, ts: str) -> list[dict]:
    msg = bot.fake.channels[channel_id].message(ts)
    assert msg is not None
    return msg.blocks


async def test_declare_creates_channel_card_pin_topic_and_announcement(bot: Bot) -> None:
    ack = await bot.command("declare sev1 Checkout API returning 500s")
    assert "Declaring" in ack

    [inc] = await bot.open_incidents()
    day = bot.clock().strftime("%Y%m%d")
    assert inc.channel_name == f"incident-{day}-checkout-api-returning-500s"
    assert (inc.severity, inc.status, inc.title) == ("SEV1", "investigating",
                                                     "Checkout API returning 500s")
    channel = bot.fake.channels[inc.channel_id]
    assert channel.members == {BOT_USER_ID, ALICE}

    # The card is the first message, pinned, and carries one Take button + picker per role.
    card = channel.messages[0]
    assert channel.pins == [card.ts] == [inc.card_ts]
    assert card.blocks[0]["text"]["text"] == "INC-1 · Checkout API returning 500s"
    role_rows = [b for b in card.blocks if b.get("block_id", "").startswith("role|")]
    assert [b["block_id"] for b in role_rows] == [
        blocks.role_block_id(inc.id, r) for r in ("ic", "tl", "comms", "scribe")
    ]
    for row in role_rows:
        assert [e["type"] for e in row["elements"]] == ["button", "users_select"]

    assert channel.topic.startswith("SEV1 · Investigating · IC: unassigned")
    [announcement] = bot.announcements
    assert "INCIDENT DECLARED" in announcement
    assert f"<#{inc.channel_id}>" in announcement and f"<@{ALICE}>" in announcement

    # The declarer's "declaring…" answer is replaced by a link to the channel.
    [reply] = bot.fake.responses
    assert reply["replace_original"] is True and f"<#{inc.channel_id}>" in reply["text"]

    async with bot.fh.db.read() as s:
        [entry] = await entry_rows.list_entries(s, inc.id)
    assert (entry.kind, entry.actor) == ("declared", ALICE)


async def test_card_is_visible_after_two_sequential_calls(bot: Bot) -> None:
    await bot.command("help")  # Bolt's one-off auth.test, out of the way
    bot.fake.channels[INCIDENTS_CHANNEL_ID].members.add(BOT_USER_ID)  # joined at first use
    bot.fake.delay("*", 0.2)  # a slow Slack, so that calls made together overlap
    first = len(bot.fake.calls)
    await bot.command("declare sev2 Payments slow")
    calls = bot.fake.calls[first:]
    methods = [c.method for c in calls]
    assert sorted(methods) == sorted([
        "conversations.create", "chat.postMessage", "conversations.invite",
        "conversations.setTopic", "chat.postMessage", "pins.add",
        "chat.postMessage",  # the initial-assessment checklist, after the card
        "views.publish",  # the declarer's App Home, refreshed once the declare is done
    ])
    [create] = [c for c in calls if c.method == "conversations.create"]
    card = next(c for c in calls if c.method == "chat.postMessage"
                and c.args["channel"] == create_channel_id(bot))
    # Only conversations.create came before the card; invite/topic/announce ran alongside it.
    assert [c for c in calls if c.ended <= card.started] == [create]
    # Invite, topic and the announcement overlapped the card; the pin and the checklist
    # waited for it, and the App Home for all of them.
    after_card = [c.method for c in calls if c.started >= card.ended]
    assert after_card == ["pins.add", "chat.postMessage", "views.publish"]


def create_channel_id(bot: Bot) -> str:
    return next(c.id for c in bot.fake.channels.values() if c.name.startswith("incident-"))


async def test_channel_date_uses_the_configured_time_zone(make_bot: BotFactory) -> None:
    # 12:00 UTC on the 23rd is already the 24th at UTC+14.
    clock = Clock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    bot = await make_bot(clock=clock, TIMEZONE="Pacific/Kiritimati")
    inc, _ = await bot.declare("sev3 Late night")
    assert inc.channel_name == "incident-20261124-late-night"
    card = _card_blocks(bot, inc.channel_id, inc.card_ts)
    assert "2026-11-24 02:00 +14" in json.dumps(card)


async def test_name_taken_gets_a_numbered_suffix(bot: Bot) -> None:
    day = bot.clock().strftime("%Y%m%d")
    bot.fake.add_channel(f"incident-{day}-db-down")
    bot.fake.add_channel(f"incident-{day}-db-down-2")
    inc, _ = await bot.declare("sev2 DB down")
    assert inc.channel_name == f"incident-{day}-db-down-3"


async def test_private_incident_gets_private_channel_and_no_announcement(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 --private Suspicious logins on admin")
    assert inc.is_private and channel.is_private and channel.id.startswith("G")
    assert inc.title == "Suspicious logins on admin"
    assert bot.announcements == []


async def test_no_title_opens_the_modal_and_submitting_declares(bot: Bot) -> None:
    ack = await bot.command("declare sev2")
    assert ack == ""
    [call] = bot.fake.calls_to("views.open")
    view = call.args["view"]
    assert view["callback_id"] == blocks.DECLARE_MODAL
    assert view["blocks"][1]["element"]["initial_option"]["value"] == "SEV2"

    reply = await bot.slack.submit_view(user=BOB, view=view, values={
        "title": {"type": "plain_text_input", "value": "Search results empty"},
        "severity": {"type": "static_select", "selected_option": {"value": "SEV2"}},
        "description": {"type": "plain_text_input", "value": "All EU users"},
        "private": {"type": "checkboxes", "selected_options": []},
    })
    assert reply.status == 200 and reply.body == ""
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert (inc.title, inc.severity, inc.description, inc.declared_by) == (
        "Search results empty", "SEV2", "All EU users", BOB)
    # The declarer hears where it is, privately, in the channel they started from.
    [told] = bot.ephemerals_for(BOB)
    assert f"<#{inc.channel_id}>" in told


async def test_modal_with_empty_title_answers_with_a_field_error(bot: Bot) -> None:
    view = bot.fh.presenter.declare_modal(GENERAL)
    reply = await bot.slack.submit_view(user=BOB, view=view, values={
        "title": {"type": "plain_text_input", "value": "   "},
        "severity": {"type": "static_select", "selected_option": {"value": "SEV2"}},
    })
    assert reply.json() == {"response_action": "errors",
                            "errors": {"title": "Give the incident a short title."}}
    await bot.settle()
    assert await bot.open_incidents() == []


async def test_same_declare_twice_makes_one_incident(bot: Bot) -> None:
    await bot.command("declare sev1 Checkout down")
    second = await bot.command("declare SEV-1 checkout   DOWN")
    incidents = await bot.open_incidents()
    assert len(incidents) == 1
    assert len(bot.fake.calls_to("conversations.create")) == 1
    assert "You declared this a moment ago" in second
    assert f"<#{incidents[0].channel_id}>" in second


async def test_the_same_form_submitted_twice_makes_one_incident(bot: Bot) -> None:
    view = bot.fh.presenter.declare_modal(GENERAL)
    values = {"title": {"type": "plain_text_input", "value": "Twice submitted"},
              "severity": {"type": "static_select", "selected_option": {"value": "SEV2"}}}
    first, second = await asyncio.gather(
        bot.slack.submit_view(user=BOB, view=view, values=values),
        bot.slack.submit_view(user=BOB, view=view, values=values))
    assert first.status == second.status == 200
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert len(bot.fake.calls_to("conversations.create")) == 1
    told = sorted(bot.ephemerals_for(BOB), key=lambda t: "moment ago" in t)
    assert len(told) == 2
    assert f"<#{inc.channel_id}>" in told[0]
    assert "You declared this a moment ago" in told[1] and inc.label in told[1]


async def test_an_acknowledged_declare_is_stored_before_the_ack(bot: Bot) -> None:
    reply = await bot.slack.command("declare sev1 Stored first", user=ALICE, channel=GENERAL)
    assert "Declaring" in reply.text
    async with bot.fh.db.read() as s:  # no settling: the row exists when the ack arrives
        pending = await repo.list_unfinished_setup(s) + await repo.list_open(s)
    assert [i.title for i in pending] == ["Stored first"]
    await bot.settle()


async def test_mentions_in_a_title_never_ping(bot: Bot) -> None:
    inc, channel = await bot.declare(
        "sev2 <!channel> <!here> <@UBOB|bob> <!subteam^S1|@oncall> <https://evil.example|click>")
    assert inc.title == "@channel @here @bob @oncall click (https://evil.example)"
    everything = json.dumps([m.blocks or m.text for m in channel.messages]) + json.dumps(
        bot.announcements) + channel.topic
    for live in ("<!channel>", "<!here>", "<@UBOB", "<!subteam", "<https://evil"):
        assert live not in everything


async def test_a_huge_title_is_cut_to_what_every_surface_carries_and_the_person_is_told(
        bot: Bot) -> None:
    title = ("Primary database cluster failover loop " * 1100).strip()  # 41,000+ characters
    reply = await bot.slack.command(f"declare sev2 {title}", user=ALICE, channel=GENERAL)
    assert "Your title was 42,899 characters; Foghorn keeps the first 200." in reply.text
    await bot.settle()
    [inc] = await bot.open_incidents()
    channel = bot.fake.channels[inc.channel_id]
    assert len(inc.channel_name) <= 80 and not inc.channel_name.endswith("-")
    assert len(inc.title) == TITLE_LIMIT and inc.title.endswith("…")
    assert inc.title.startswith("Primary database cluster failover loop Primary")
    assert len(channel.messages[0].blocks[0]["text"]["text"]) <= 150
    # Every later message that repeats the title still fits (it was msg_too_long before).
    long_update = "x" * 30_000
    reply = await bot.slack.command(f"update identified {long_update}", user=ALICE,
                                    channel=inc.channel_id)
    assert "Your update was 30,000 characters; Foghorn keeps the first 2,500." in reply.text
    await bot.settle()
    await bot.command("resolve done", channel=inc.channel_id)
    assert (await bot.incident(inc.id)).is_resolved
    assert "Primary database" in channel.topic and len(channel.topic) <= 250


async def test_emoji_title_falls_back_to_the_incident_id(bot: Bot) -> None:
    inc, _ = await bot.declare("sev3 🔥🔥🔥")
    assert inc.channel_name == f"incident-{bot.clock():%Y%m%d}-inc-{inc.id}"


async def test_unknown_severity_lists_the_valid_ones_and_creates_nothing(bot: Bot) -> None:
    ack = await bot.command("declare sev9 Something")
    assert "Unknown severity `sev9`" in ack and "`SEV1` (Critical)" in ack
    assert bot.fake.calls_to("conversations.create") == []


async def test_a_refused_channel_keeps_the_declare_and_says_why(make_bot: BotFactory,
                                                                 sqlite_url: str) -> None:
    bot = await make_bot()
    bot.fake.fail("conversations.create", status=200, error="restricted_action")
    await bot.command("declare sev1 Cannot create")
    told = bot.fake.responses[-1]["text"]
    assert "INC-1 is saved, but Slack would not create its channel (restricted_action)" in told
    async with bot.fh.db.read() as s:
        [kept] = await repo.list_unfinished_setup(s)  # never deleted: it was acknowledged
    assert kept.title == "Cannot create" and kept.channel_id is None
    await bot.stop()
    restarted = await make_bot(database_url=sqlite_url)  # the admin fixed it meanwhile
    [inc] = await restarted.open_incidents()
    assert inc.id == kept.id and inc.setup_done and inc.channel_id


async def test_rate_limited_create_is_retried_after_retry_after(bot: Bot) -> None:
    bot.fake.fail("conversations.create", status=429, retry_after=1)
    inc, channel = await bot.declare("sev1 Under rate limit")
    creates = bot.fake.calls_to("conversations.create")
    assert [c.status for c in creates] == [429, 200]
    assert creates[1].at - creates[0].at >= 1.0
    assert len([c for c in bot.fake.channels.values() if c.name.startswith("incident-")]) == 1
    assert channel.pins == [inc.card_ts]


async def test_announcement_channel_missing_is_reported_not_fatal(
    make_bot: BotFactory
) -> None:
    bot = await make_bot()
    del bot.fake.channels[INCIDENTS_CHANNEL_ID]  # deleted after start-up checked it
    inc, channel = await bot.declare("sev2 Lonely")
    assert channel.pins == [inc.card_ts]
    assert "Could not announce it in the incidents channel" in bot.fake.responses[-1]["text"]
    assert not [c for c in bot.fake.calls_to("chat.postMessage") if c.args.get("channel") in
                ("incidents", INCIDENTS_CHANNEL_ID) and c.error is None]


async def test_announcement_channel_missing_at_start_up_stops_it(make_bot: BotFactory) -> None:
    with pytest.raises(ConfigError) as err:
        await make_bot(INCIDENTS_CHANNEL="no-such-channel")
    assert str(err.value).startswith("INCIDENTS_CHANNEL is invalid: #no-such-channel does not "
                                     "exist in this workspace")
