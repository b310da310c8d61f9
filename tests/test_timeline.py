"""The timeline from channel messages: exactly once, edits, deletions, key events, catch-up."""

from __future__ import annotations

import io
import json

import pytest

from bot.export import export
from bot.incidents.model import TimelineEntry
from bot.store import entry_rows, repo
from tests.conftest import ALICE, BOB, CAROL, GENERAL, Bot, BotFactory


async def _entries(bot: Bot, incident_id: int) -> list[TimelineEntry]:
    async with bot.fh.db.read() as s:
        return await entry_rows.list_entries(s, incident_id)


async def _messages(bot: Bot, incident_id: int) -> list[TimelineEntry]:
    return [e for e in await _entries(bot, incident_id) if e.slack_ts]


async def test_a_message_is_stored_before_the_ack(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, reply = await bot.slack.say(inc.channel_id, BOB, "Error rate jumped at 14:02")
    assert reply.status == 200
    # No settling: the 200 itself promises the entry is in the database.
    [entry] = await _messages(bot, inc.id)
    assert (entry.actor, entry.text, entry.slack_ts) == (BOB, "Error rate jumped at 14:02", msg.ts)
    assert entry.occurred_at.timestamp() == float(msg.ts)  # the message's own time


async def test_a_retried_event_and_a_repeated_message_are_stored_once(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "first", event_id="Ev0001")
    event = bot.slack.message_event(inc.channel_id, msg)
    retry = await bot.slack.event(event, event_id="Ev0001", retry_num=1)
    again = await bot.slack.event(event, event_id="Ev0002")  # same message, new delivery
    assert retry.status == again.status == 200
    assert [e.text for e in await _messages(bot, inc.id)] == ["first"]


async def test_retried_reaction_does_not_undo_a_later_removal(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "Rolled back")
    added = {"type": "reaction_added", "user": CAROL, "reaction": "pushpin",
             "item": {"type": "message", "channel": inc.channel_id, "ts": msg.ts},
             "event_ts": msg.ts}
    await bot.slack.event(added, event_id="EvAdd")
    await bot.slack.react(inc.channel_id, msg.ts, CAROL, removed=True)
    await bot.slack.event(added, event_id="EvAdd", retry_num=1)  # late retry of the add
    [entry] = await _messages(bot, inc.id)
    assert entry.key_event is False


async def test_thread_replies_and_files(bot: Bot) -> None:
    inc, _ = await bot.declare()
    parent, _ = await bot.slack.say(inc.channel_id, BOB, "Looking at the DB")
    reply_msg, _ = await bot.slack.say(inc.channel_id, CAROL, "Replica lag 40s",
                                       thread_ts=parent.ts)
    await bot.slack.say(inc.channel_id, CAROL, "graph", file_name="lag.png")
    parent_e, reply_e, file_e = await _messages(bot, inc.id)
    assert parent_e.thread_ts is None and reply_e.thread_ts == parent.ts
    assert reply_e.slack_ts == reply_msg.ts
    assert file_e.kind == "file" and file_e.data["files"][0]["name"] == "lag.png"
    assert file_e.data["files"][0]["permalink"].endswith("/lag.png")


async def test_edits_keep_history_and_deletions_remove_the_text(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "DB at 90% CPU")
    assert (await bot.slack.edit(inc.channel_id, msg.ts, "DB at 99% CPU")).status == 200
    [entry] = await _messages(bot, inc.id)
    assert entry.text == "DB at 99% CPU" and entry.edited_at is not None
    assert [h["text"] for h in entry.data["history"]] == ["DB at 90% CPU"]

    secret, _ = await bot.slack.say(inc.channel_id, BOB, "password is hunter2")
    await bot.slack.react(inc.channel_id, secret.ts, BOB)
    await bot.slack.edit(inc.channel_id, secret.ts, "password is hunter3")
    assert (await bot.slack.delete(inc.channel_id, secret.ts)).status == 200
    gone = (await _messages(bot, inc.id))[-1]
    assert gone.deleted and (gone.actor, gone.slack_ts) == (BOB, secret.ts)
    assert gone.text == "" and gone.data == {} and not gone.key_event

    timeline = await bot.command("timeline", channel=inc.channel_id)
    await bot.command("postmortem", channel=inc.channel_id)
    [upload] = [f for f in bot.fake.files.values() if f["name"].startswith("postmortem-")]
    out = io.StringIO()  # the command-line export must not leak it either
    assert await export(bot.fh.settings, inc.channel_id, "json", out) == 0
    for shown in (timeline, json.dumps(_reply_blocks(bot)), upload["content"].decode(),
                  out.getvalue()):
        assert "hunter" not in shown
    assert "(message deleted)" in upload["content"].decode()


def _reply_blocks(bot: Bot) -> list:
    return [r.get("blocks") for r in bot.fake.responses]


async def test_pushpin_reactions_and_pins_mark_key_events(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "Found it: bad config push")
    await bot.slack.react(inc.channel_id, msg.ts, BOB)
    await bot.slack.react(inc.channel_id, msg.ts, CAROL, "round_pushpin")
    await bot.slack.react(inc.channel_id, msg.ts, BOB, removed=True)
    assert (await _messages(bot, inc.id))[0].key_event  # Carol's pin still stands
    await bot.slack.react(inc.channel_id, msg.ts, CAROL, "round_pushpin", removed=True)
    assert not (await _messages(bot, inc.id))[0].key_event
    await bot.slack.react(inc.channel_id, msg.ts, CAROL, "thumbsup")
    assert not (await _messages(bot, inc.id))[0].key_event
    await bot.slack.pin(inc.channel_id, msg.ts, ALICE)
    assert (await _messages(bot, inc.id))[0].key_event
    await bot.slack.pin(inc.channel_id, msg.ts, ALICE, removed=True)
    assert not (await _messages(bot, inc.id))[0].key_event


async def test_the_bots_own_actions_are_entries(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Checkout down")
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.command(f"role ic <@{CAROL}>", user=BOB, channel=inc.channel_id)
    await bot.command("severity sev1", user=BOB, channel=inc.channel_id)
    await bot.command("update identified bad deploy", user=BOB, channel=inc.channel_id)
    await bot.command("resolve rolled back", user=BOB, channel=inc.channel_id)
    kinds = [e.kind for e in await _entries(bot, inc.id)]
    assert kinds == ["declared", "role_assigned", "role_assigned", "severity_changed",
                     "status_update", "resolved"]


async def test_other_channels_bots_and_odd_events_are_ignored(bot: Bot) -> None:
    inc, _ = await bot.declare()
    _, reply = await bot.slack.say(GENERAL, BOB, "not an incident channel")
    assert reply.status == 200
    odd_events = [
        {"type": "message", "channel": inc.channel_id, "text": "no user", "ts": "1.000001"},
        {"type": "message", "channel": inc.channel_id, "user": BOB, "ts": "1.000002"},
        {"type": "message", "subtype": "channel_join", "channel": inc.channel_id,
         "user": CAROL, "text": "joined", "ts": "1.000003"},
        {"type": "message", "subtype": "bot_message", "bot_id": "B9", "text": "beep",
         "channel": inc.channel_id, "ts": "1.000004"},
        {"type": "message", "channel": inc.channel_id, "user": BOB, "text": "x", "ts": "nan?"},
        {"type": "message", "channel": "C0NEVERHEARD", "user": BOB, "text": "?", "ts": "1.5"},
        {"type": "message", "subtype": "message_changed", "channel": inc.channel_id},
        {"type": "message", "subtype": "message_deleted", "channel": inc.channel_id},
        {"type": "reaction_added", "reaction": "pushpin", "item": {"type": "file"}},
        {"type": "pin_added", "item": {}},
        {"type": "something_new"},
        {"no_type": True},
    ]
    for event in odd_events:
        reply = await bot.slack.event(event)
        assert reply.status == 200, (event, reply.body)
    no_event = await bot.slack.post(json.dumps({"type": "event_callback", "team_id": "T",
                                                "event_id": "Ev9"}).encode(), "application/json")
    assert no_event.status == 200
    entries = await _messages(bot, inc.id)
    # Only the message without text is a person's message (an empty one).
    assert [(e.actor, e.text) for e in entries] == [(BOB, "")]


async def test_kill_after_ack_loses_nothing(make_bot: BotFactory, sqlite_url: str) -> None:
    bot = await make_bot()
    inc, _ = await bot.declare()
    msg, reply = await bot.slack.say(inc.channel_id, BOB, "acked, then the power went out")
    assert reply.status == 200
    await bot.stop()  # also see test_kill9 for a real SIGKILL of `python -m bot`
    restarted = await make_bot(database_url=sqlite_url)
    [entry] = await _messages(restarted, inc.id)
    assert entry.slack_ts == msg.ts


async def test_catch_up_stores_what_was_said_while_down(make_bot: BotFactory,
                                                         sqlite_url: str) -> None:
    bot = await make_bot()
    inc, _ = await bot.declare()
    seen, _ = await bot.slack.say(inc.channel_id, BOB, "before the outage")
    await bot.stop()
    fake = bot.fake
    missed = [fake.human_message(inc.channel_id, CAROL, f"while down {i}") for i in range(450)]
    fake.human_message(inc.channel_id, BOB, "thread reply", thread_ts=seen.ts)
    fake.human_message(inc.channel_id, CAROL, "reply in a new thread", thread_ts=missed[3].ts)

    restarted = await make_bot(database_url=sqlite_url)
    texts = [e.text for e in await _messages(restarted, inc.id)]
    assert texts[0] == "before the outage" and len(texts) == 1 + 450 + 2
    assert texts.count("while down 449") == 1
    assert {"thread reply", "reply in a new thread"} <= set(texts)
    assert len(fake.calls_to("conversations.history")) >= 3  # paginated (200 a page)

    again = await make_bot(database_url=sqlite_url)  # nothing new: nothing doubled
    assert len(await _messages(again, inc.id)) == 1 + 450 + 2


async def test_note_and_timeline_commands(bot: Bot) -> None:
    inc, channel = await bot.declare()
    assert "Add the note's text" in await bot.command("note", channel=inc.channel_id)
    await bot.command("note Decided to fail over to eu-west-2", user=BOB,
                      channel=inc.channel_id)
    assert "Note from <@UBOB>: Decided to fail over" in channel.messages[-1].text
    for i in range(60):
        await bot.slack.say(inc.channel_id, CAROL, f"msg {i}")
    key, _ = await bot.slack.say(inc.channel_id, BOB, "the key one")
    await bot.slack.react(inc.channel_id, key.ts, BOB)

    reply = await bot.slack.command("timeline", user=ALICE, channel=inc.channel_id)
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    blocks = body["blocks"]
    assert len(blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    shown = "\n".join(b["text"]["text"] for b in blocks)
    assert "The newest 50 of 63 entries; 13 older ones" in shown
    assert ":pushpin: *`" in shown and "the key one" in shown
    assert "msg 59" in shown and "msg 10" not in shown
    date = bot.clock().strftime("%Y-%m-%d")
    assert f"`{date} " in shown  # date and time, never time alone

    outside = await bot.command("timeline", channel=GENERAL)
    assert "works inside an incident channel" in outside


async def test_messages_in_other_channels_skip_the_database(
        make_bot: BotFactory, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """#23 item 5: a message in a channel that is not an incident's used to cost a write
    transaction and a query, every time. Known other channels are skipped without touching
    the database, and a new incident's channel is stored all the same, on every replica."""
    lookups: list[list[str]] = []
    real = repo.incident_ids_by_channel

    def counted(session: object, channels: list[str]) -> dict[str, int]:
        lookups.append(list(channels))
        return real(session, channels)  # type: ignore[arg-type]  # a sync Session

    monkeypatch.setattr(repo, "incident_ids_by_channel", counted)
    one = await make_bot()
    two = await make_bot(database_url=sqlite_url, clock=one.clock)  # a second replica
    two.slack._ids = one.slack._ids  # one Slack: event ids never repeat across replicas
    for i in range(5):
        for bot in (one, two):
            _, reply = await bot.slack.say(GENERAL, BOB, f"lunch? {i}")
            assert reply.status == 200
    assert [c for c in lookups if GENERAL in c] == [[GENERAL], [GENERAL]]  # once each
    inc, _ = await one.declare("sev2 After the chatter")
    for bot in (one, two):  # the other replica stores the new channel's messages too
        _, reply = await bot.slack.say(inc.channel_id, BOB, f"seen by {id(bot)}")
        assert reply.status == 200
    async with one.fh.db.read() as s:
        said = [e.text for e in await entry_rows.list_entries(s, inc.id) if e.kind == "message"]
    assert said == [f"seen by {id(one)}", f"seen by {id(two)}"]
    async with one.fh.db.read() as s:
        assert await repo.get_by_channel(s, GENERAL) is None
