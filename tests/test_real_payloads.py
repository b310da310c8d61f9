"""The odd shapes Slack really sends, driven through the running bot over signed HTTP.

Shapes follow Slack's Events API and interaction payload references and the samples in
slackapi's SDK test suites: a deleted thread parent arrives as `message_changed` to a
tombstone; deletions of other apps' messages, joins and topic changes; edits of a message
with files; `thread_broadcast` and `me_message`; edits made by another app; button clicks
from an ephemeral message (no `message`) and from the App Home (a `view` container);
Enterprise Grid fields; `channel_type: group`; and user ids that start with `W`.
"""

from __future__ import annotations

import io
import json
import time

from bot.export import export
from bot.incidents.model import TimelineEntry
from bot.slack import blocks
from bot.store import entry_rows
from bot.testing.fake_slack import TEAM_ID
from tests.conftest import ALICE, BOB, CAROL, Bot
from tests.test_checklists import tick

ENTERPRISE = "E0GRID"
WANDA = "W0WANDA"  # an Enterprise Grid user id


async def _entries(bot: Bot, incident_id: int) -> list[TimelineEntry]:
    async with bot.fh.db.read() as s:
        return await entry_rows.list_entries(s, incident_id)


async def _said(bot: Bot, incident_id: int) -> list[tuple[str | None, str]]:
    return [(e.actor, e.text) for e in await _entries(bot, incident_id) if e.slack_ts]


def _now() -> str:
    return f"{time.time():.6f}"


async def test_a_deleted_thread_parent_is_a_tombstone_and_its_text_is_gone(bot: Bot) -> None:
    inc, _ = await bot.declare()
    parent, _ = await bot.slack.say(inc.channel_id, BOB, "customer card 4242-4242 failing")
    await bot.slack.edit(inc.channel_id, parent.ts, "customer card 4242 failing")
    await bot.slack.say(inc.channel_id, CAROL, "looking", thread_ts=parent.ts)
    reply = await bot.slack.delete(inc.channel_id, parent.ts)  # Slack: message_changed
    assert reply.status == 200
    assert bot.fake.channels[inc.channel_id].message(parent.ts).subtype == "tombstone"
    entries = [e for e in await _entries(bot, inc.id) if e.slack_ts]
    gone = next(e for e in entries if e.slack_ts == parent.ts)
    assert gone.deleted and gone.text == "" and gone.data == {}  # no edit history either
    assert (CAROL, "looking") in [(e.actor, e.text) for e in entries]  # the reply stays
    out = io.StringIO()
    assert await export(bot.fh.settings, inc.channel_id, "json", out) == 0
    timeline = json.dumps([r.get("blocks") for r in bot.fake.responses])
    await bot.command("timeline", channel=inc.channel_id)
    for shown in (out.getvalue(), timeline, json.dumps([r.get("blocks")
                                                        for r in bot.fake.responses])):
        # (not a bare "4242": a timestamp's microseconds can hold those digits)
        assert "card 4242" not in shown and "This message was deleted" not in shown


async def test_catch_up_turns_a_tombstone_in_history_into_a_deletion(make_bot, sqlite_url
                                                                     ) -> None:
    bot = await make_bot()
    inc, _ = await bot.declare()
    parent, _ = await bot.slack.say(inc.channel_id, BOB, "api key sk-live-123 leaked")
    await bot.stop()
    bot.fake.human_message(inc.channel_id, CAROL, "rotating it", thread_ts=parent.ts)
    bot.fake.human_delete(inc.channel_id, parent.ts)  # while Foghorn was down
    restarted = await make_bot(database_url=sqlite_url)
    said = await _said(restarted, inc.id)
    assert (CAROL, "rotating it") in said
    assert all("sk-live" not in text for _, text in said)


async def test_deleting_messages_that_were_never_a_persons_adds_nothing(bot: Bot) -> None:
    inc, _ = await bot.declare()
    await bot.slack.say(inc.channel_id, BOB, "only this")
    base = {"type": "message", "subtype": "message_deleted", "hidden": True,
            "channel": inc.channel_id, "channel_type": "channel"}
    previous_messages = [
        {"type": "message", "subtype": "bot_message", "bot_id": "B0PAGERDUTY",
         "username": "pagerduty", "text": "Incident #123 triggered", "ts": "1700000000.000100"},
        {"type": "message", "bot_id": "B0OTHERAPP", "app_id": "A0OTHER", "user": "U0OTHERBOT",
         "text": "deploy finished", "ts": "1700000000.000200"},
        {"type": "message", "subtype": "channel_join", "user": CAROL,
         "text": "<@UCAROL> has joined the channel", "ts": "1700000000.000300"},
        {"type": "message", "subtype": "channel_topic", "user": ALICE, "topic": "x",
         "text": "set the channel topic: x", "ts": "1700000000.000400"},
    ]
    for previous in previous_messages:
        now = _now()
        reply = await bot.slack.event({**base, "ts": now, "event_ts": now,
                                       "deleted_ts": previous["ts"],
                                       "previous_message": previous})
        assert reply.status == 200
    await bot.command("postmortem", channel=inc.channel_id)
    doc = next(iter(bot.fake.files.values()))["content"].decode()
    assert "(message deleted)" not in doc
    assert await _said(bot, inc.id) == [(BOB, "only this")]


async def test_a_late_delivery_of_a_deleted_message_stays_deleted(bot: Bot) -> None:
    """The deletion overtakes the message (its first delivery failed; Slack retries it)."""
    inc, _ = await bot.declare()
    msg = bot.fake.human_message(inc.channel_id, BOB, "the root password is hunter2")
    event = bot.slack.message_event(inc.channel_id, msg)
    await bot.slack.delete(inc.channel_id, msg.ts)
    await bot.slack.event(event, retry_num=1)
    assert await _said(bot, inc.id) == []
    _, total = await bot.fh.service.timeline.recent(inc.id, 50)
    assert total == len(await _entries(bot, inc.id))  # the marker is not counted


async def test_edit_of_a_message_with_files_keeps_the_files(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "graph", file_name="lag.png")
    now = _now()
    await bot.slack.event({
        "type": "message", "subtype": "message_changed", "hidden": True,
        "channel": inc.channel_id, "channel_type": "channel", "ts": now, "event_ts": now,
        "message": {"type": "message", "user": BOB, "text": "replica lag graph",
                    "ts": msg.ts, "files": msg.files, "upload": False,
                    "edited": {"user": BOB, "ts": now}, "display_as_bot": False},
        "previous_message": {"type": "message", "user": BOB, "text": "graph", "ts": msg.ts,
                             "files": msg.files, "upload": False},
    })
    [entry] = [e for e in await _entries(bot, inc.id) if e.slack_ts]
    assert entry.text == "replica lag graph" and entry.kind == "file"
    assert entry.data["files"][0]["name"] == "lag.png"


async def test_thread_broadcast_and_me_message_are_a_persons_words(bot: Bot) -> None:
    inc, _ = await bot.declare()
    parent, _ = await bot.slack.say(inc.channel_id, BOB, "rolling back")
    ts = _now()
    await bot.slack.event({
        "type": "message", "subtype": "thread_broadcast", "channel": inc.channel_id,
        "channel_type": "channel", "user": CAROL, "text": "rollback done, errors gone",
        "ts": ts, "event_ts": ts, "thread_ts": parent.ts,
        "root": {"type": "message", "user": BOB, "text": "rolling back", "ts": parent.ts,
                 "thread_ts": parent.ts, "reply_count": 1},
    })
    ts2 = _now()
    await bot.slack.event({"type": "message", "subtype": "me_message", "user": ALICE,
                           "channel": inc.channel_id, "channel_type": "channel",
                           "text": "is paging the DBA", "ts": ts2, "event_ts": ts2})
    entries = {e.slack_ts: e for e in await _entries(bot, inc.id) if e.slack_ts}
    assert entries[ts].text == "rollback done, errors gone" and entries[ts].thread_ts == parent.ts
    assert entries[ts2].actor == ALICE and entries[ts2].text == "is paging the DBA"


async def test_an_edit_made_by_another_app_is_not_a_persons_edit(bot: Bot) -> None:
    inc, _ = await bot.declare()
    msg, _ = await bot.slack.say(inc.channel_id, BOB, "see https://status.example.com")
    now = _now()
    await bot.slack.event({  # an unfurl: same text, attachments added by Slack for the app
        "type": "message", "subtype": "message_changed", "hidden": True,
        "channel": inc.channel_id, "ts": now, "event_ts": now,
        "message": {"type": "message", "user": BOB, "text": msg.text, "ts": msg.ts,
                    "attachments": [{"id": 1, "title": "Status", "from_url":
                                     "https://status.example.com"}]},
        "previous_message": {"type": "message", "user": BOB, "text": msg.text, "ts": msg.ts},
    })
    bot_ts = "1700000001.000100"
    await bot.slack.event({  # another app edits its own message
        "type": "message", "subtype": "message_changed", "hidden": True,
        "channel": inc.channel_id, "ts": now, "event_ts": now,
        "message": {"type": "message", "subtype": "bot_message", "bot_id": "B0CI",
                    "text": "deploy 2/2 done", "ts": bot_ts},
        "previous_message": {"type": "message", "subtype": "bot_message", "bot_id": "B0CI",
                             "text": "deploy 1/2 done", "ts": bot_ts},
    })
    [entry] = [e for e in await _entries(bot, inc.id) if e.slack_ts]
    assert entry.edited_at is None and "history" not in entry.data


async def test_resolve_anyway_from_an_ephemeral_message_with_a_long_japanese_summary(
        bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 決済障害")
    await bot.command("update monitoring ロールバック済み", channel=inc.channel_id)
    await tick(bot, BOB, inc, "validation", {0})
    await bot.settle()
    summary = "決済APIのタイムアウトは接続プールの枯渇が原因でした。" * 12  # 336 characters
    await bot.command(f"resolve {summary}", user=BOB, channel=inc.channel_id)
    ask = bot.fake.responses[-1]
    [button] = ask["blocks"][1]["elements"]
    payload = {  # clicks in ephemeral messages carry no `message`, only the container
        "type": "block_actions", "user": {"id": BOB, "username": "bob", "name": "bob",
                                          "team_id": TEAM_ID},
        "api_app_id": "A0FOGHORN", "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": "1700000000.000900",
                      "channel_id": inc.channel_id, "is_ephemeral": True},
        "trigger_id": bot.fake.new_trigger_id(), "team": {"id": TEAM_ID, "domain": "fh"},
        "enterprise": None, "is_enterprise_install": False,
        "channel": {"id": inc.channel_id, "name": "incident"}, "state": {"values": {}},
        "response_url": bot.fake.response_url(),
        "actions": [{"action_id": button["action_id"], "block_id": "x1Y", "type": "button",
                     "text": button["text"], "value": button["value"], "style": "danger",
                     "action_ts": _now()}],
    }
    assert (await bot.slack.interaction(payload)).status == 200
    await bot.settle()
    stored = await bot.incident(inc.id)
    assert stored.is_resolved and stored.summary == summary
    payload["trigger_id"] = bot.fake.new_trigger_id()
    await bot.slack.interaction(payload)  # a second click changes nothing
    await bot.settle()
    assert "already resolved" in bot.fake.responses[-1]["text"]


async def test_the_declare_button_on_the_app_home(bot: Bot) -> None:
    await bot.slack.event({"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE",
                           "tab": "home", "event_ts": _now()})
    await bot.settle()
    home = bot.fake.home_views[ALICE]
    [button] = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    reply = await bot.slack.interaction({
        "type": "block_actions", "user": {"id": ALICE, "username": "alice", "name": "alice",
                                          "team_id": TEAM_ID},
        "api_app_id": "A0FOGHORN", "token": "verification-token-unused",
        "container": {"type": "view", "view_id": home["id"]},
        "trigger_id": bot.fake.new_trigger_id(), "team": {"id": TEAM_ID, "domain": "fh"},
        "enterprise": None, "is_enterprise_install": False,
        "view": {**home, "team_id": TEAM_ID, "state": {"values": {}}, "hash": "1.x",
                 "app_id": "A0FOGHORN", "bot_id": "BFOGHORN", "previous_view_id": None,
                 "root_view_id": home["id"]},
        "actions": [{"action_id": button["action_id"], "block_id": "h1", "type": "button",
                     "text": button["text"], "style": "danger", "action_ts": _now()}],
    })
    assert reply.status == 200
    await bot.settle()
    assert bot.fake.calls_to("views.open")[-1].args["view"]["callback_id"] == \
        blocks.DECLARE_MODAL


async def test_enterprise_grid_fields_and_w_user_ids(bot: Bot) -> None:
    bot.fake.add_user(WANDA, "wanda")
    reply = await bot.slack.command("declare sev2 Grid login loop", user=WANDA,
                                    channel="C0GENERAL", enterprise_id=ENTERPRISE,
                                    enterprise_name="Grid Corp", is_enterprise_install="false")
    assert reply.status == 200
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert inc.declared_by == WANDA
    assert WANDA in bot.fake.channels[inc.channel_id].members
    await bot.command(f"role ic <@{WANDA}|wanda>", user=ALICE, channel=inc.channel_id)
    assert (await bot.incident(inc.id)).roles.get("ic") == WANDA
    msg = bot.fake.human_message(inc.channel_id, WANDA, "checking SSO")
    event = {**bot.slack.message_event(inc.channel_id, msg), "user_team": TEAM_ID,
             "source_team": TEAM_ID}
    now = _now()
    envelope = {"token": "verification-token-unused", "team_id": TEAM_ID,
                "enterprise_id": ENTERPRISE, "context_team_id": TEAM_ID,
                "context_enterprise_id": ENTERPRISE, "api_app_id": "A0FOGHORN",
                "event": event, "type": "event_callback", "event_id": "Ev0GRID01",
                "event_time": int(float(now)),
                "authorizations": [{"enterprise_id": ENTERPRISE, "team_id": TEAM_ID,
                                    "user_id": "UFOGHORNBOT", "is_bot": True,
                                    "is_enterprise_install": False}],
                "is_ext_shared_channel": False}
    reply = await bot.slack.post(json.dumps(envelope).encode(), "application/json")
    assert reply.status == 200
    assert (WANDA, "checking SSO") in await _said(bot, inc.id)


async def test_private_incident_messages_arrive_as_channel_type_group(bot: Bot) -> None:
    inc, channel = await bot.declare("sev2 --private Payroll export wrong")
    assert channel.is_private
    msg, _ = await bot.slack.say(inc.channel_id, ALICE, "export job paused")
    assert bot.slack.message_event(inc.channel_id, msg)["channel_type"] == "group"
    assert (ALICE, "export job paused") in await _said(bot, inc.id)
