"""Playbook checklists in the incident channel: posted on time, ticked in place, recorded."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from bot.playbooks import PlaybookError, parse_playbook
from bot.slack import blocks
from bot.store import entry_rows
from tests.conftest import ALICE, BOB, CAROL, ROOT, Bot

DEFAULT = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())


def checklists_in(bot: Bot, channel: str) -> dict[str, object]:
    """checklist id -> its message, for every checklist message in the channel."""
    out = {}
    for m in bot.fake.channels[channel].messages:
        for b in m.blocks:
            target = blocks.parse_checklist_block_id(b.get("block_id", ""))
            if target:
                out[target[1]] = m
    return out


def ticked(message) -> set[int]:
    return {int(o["value"]) for b in message.blocks if b["type"] == "actions"
            for e in b["elements"] for o in e.get("initial_options", [])}


async def tick(bot: Bot, user: str, inc, checklist: str, selected: set[int]):
    msg = checklists_in(bot, inc.channel_id)[checklist]
    block = next(b for b in msg.blocks if b["type"] == "actions")
    options = block["elements"][0]["options"]
    return await bot.slack.block_action(user=user, channel=inc.channel_id, message_ts=msg.ts,
                                        action={"type": "checkboxes",
                                                "action_id": blocks.CHECKLIST_TICK,
                                                "block_id": block["block_id"],
                                                "selected_options": [
                                                    o for o in options
                                                    if int(o["value"]) in selected]})


async def test_checklists_are_posted_on_declare_status_and_resolve(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Checklist time")
    posted = checklists_in(bot, inc.channel_id)
    assert list(posted) == ["initial-assessment"]
    first = posted["initial-assessment"]
    assert "Initial assessment" in first.blocks[0]["text"]["text"]
    assert "for the Incident Commander" in first.blocks[0]["text"]["text"]
    assert len(first.blocks[1]["elements"][0]["options"]) == 6

    await bot.command("role tl me", user=CAROL, channel=inc.channel_id)
    await bot.command("update identified found it", channel=inc.channel_id)
    await bot.command("update identified still on it", channel=inc.channel_id)  # not again
    await bot.command("update monitoring fixed", channel=inc.channel_id)
    posted = checklists_in(bot, inc.channel_id)
    assert list(posted) == ["initial-assessment", "mitigation", "validation"]
    assert f"for <@{CAROL}> (Tech Lead)" in posted["mitigation"].blocks[0]["text"]["text"]
    await tick(bot, CAROL, inc, "validation", {0, 1, 2, 3, 4})  # nothing left open
    await bot.settle()
    await bot.command("resolve done", channel=inc.channel_id)
    assert list(checklists_in(bot, inc.channel_id))[-2:] == ["resolution", "follow-up"]


async def test_follow_ups_only_where_the_playbook_says(bot: Bot) -> None:
    inc, _ = await bot.declare("sev3 Small")
    await bot.command("resolve done", channel=inc.channel_id)
    assert "follow-up" not in checklists_in(bot, inc.channel_id)


async def test_ticks_update_the_message_in_place_and_the_timeline(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Tick tock")
    await tick(bot, BOB, inc, "initial-assessment", {0, 2})
    await bot.settle()
    msg = checklists_in(bot, inc.channel_id)["initial-assessment"]
    assert msg.edited and ticked(msg) == {0, 2}
    assert "2 of 6 done" in json.dumps(msg.blocks)
    await tick(bot, ALICE, inc, "initial-assessment", {0})  # unticks item 2
    await bot.settle()
    assert ticked(checklists_in(bot, inc.channel_id)["initial-assessment"]) == {0}
    async with bot.fh.db.read() as s:
        entries = [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "checklist"]
    assert [(e.actor, e.data["item"], e.data["ticked"]) for e in entries] == [
        (BOB, 0, True), (BOB, 2, True), (ALICE, 2, False)]
    assert "ticked \u201cCheck monitoring alerts" in entries[0].text


async def test_two_people_ticking_at_once_both_see_both_ticks(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Busy hands")
    # Both clicks come from the same (unticked) view of the message.
    await asyncio.gather(tick(bot, BOB, inc, "initial-assessment", {1}),
                         tick(bot, CAROL, inc, "initial-assessment", {3}))
    await bot.settle()
    assert ticked(checklists_in(bot, inc.channel_id)["initial-assessment"]) == {1, 3}


async def test_a_tick_on_a_resolved_incident_is_still_recorded(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Late tick")
    await bot.command("resolve done", channel=inc.channel_id)
    await tick(bot, BOB, inc, "resolution", {1})
    await bot.settle()
    assert ticked(checklists_in(bot, inc.channel_id)["resolution"]) == {1}


async def test_checklist_command(bot: Bot) -> None:
    listing = await bot.command("checklist")
    assert "`validation` (Validation, on monitoring)" in listing
    inc, _ = await bot.declare("sev2 On demand")
    await bot.command("checklist validation", channel=inc.channel_id)
    assert "validation" in checklists_in(bot, inc.channel_id)
    unknown = await bot.command("checklist <!channel>", channel=inc.channel_id)
    assert "No checklist" in unknown and "<!channel>" not in unknown


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c: c.update(items=[]), "checklists[0].items: needs at least 1 entry"),
    (lambda c: c.update(owner="chef"), "checklists[0].owner: 'chef' is not a role id"),
    (lambda c: c.update(severities=["SEV9"]), "unknown severity 'SEV9'"),
    (lambda c: c.update(when="fixed"), "checklists[0].when: 'fixed' is not `declare`"),
    (lambda c: c["items"][0].update(link="ftp://x"), "checklists[0].items[0].link"),
])
def test_bad_checklists_stop_start_up(mutate, expected: str) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    mutate(pb["checklists"][0])
    with pytest.raises(PlaybookError) as err:
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    assert str(err.value).startswith("pb.yml: ") and expected in str(err.value)


async def test_resolve_asks_first_while_validation_items_are_open(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Careful now")
    await bot.command("update monitoring rolled back", channel=inc.channel_id)
    await tick(bot, BOB, inc, "validation", {0, 1, 2})
    await bot.settle()
    await bot.command("resolve Rolled back v1.43", user=BOB, channel=inc.channel_id)
    ask = bot.fake.responses[-1]
    assert "still open" in ask["text"] and "No data corruption" in ask["text"]
    assert "Primary functionality restored" not in ask["text"]  # ticked
    assert not (await bot.incident(inc.id)).is_resolved

    # The button in the private answer resolves, with the summary that was typed.
    button = ask["blocks"][1]["elements"][0]
    await bot.slack.interaction({
        "type": "block_actions", "user": {"id": BOB, "name": "bob"},
        "api_app_id": "A0FOGHORN", "team": {"id": "T0FOGHORN"},
        "container": {"type": "message", "channel_id": inc.channel_id, "is_ephemeral": True},
        "channel": {"id": inc.channel_id}, "response_url": bot.fake.response_url(),
        "trigger_id": bot.fake.new_trigger_id(),
        "actions": [{**button, "block_id": "confirm", "action_ts": "1"}]})
    await bot.settle()
    stored = await bot.incident(inc.id)
    assert stored.is_resolved and stored.summary == "Rolled back v1.43"
    await bot.command("postmortem", channel=inc.channel_id)
    doc = next(iter(bot.fake.files.values()))["content"].decode()
    assert "**Validation** (3 of 5 done)" in doc
    assert "- [x] Primary functionality restored" in doc and "- [ ] No data corruption" in doc


async def test_resolve_does_not_ask_when_nothing_is_open(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 All ticked")
    await bot.command("resolve quick", channel=inc.channel_id)  # validation never posted
    assert (await bot.incident(inc.id)).is_resolved


async def test_links_war_room_and_who_to_tell_at_declare(make_bot, fake, tmp_path) -> None:
    from bot.testing.fake_slack import BOT_USER_ID

    pb = json.loads(json.dumps(DEFAULT))
    pb["links"] = [
        {"title": "War room", "url": "https://meet.example.com/bridge",
         "severities": ["SEV1", "SEV2"], "war_room": True},
        {"title": "Status page", "url": "https://status.example.com"}]
    pb["severities"][0]["notify"] = ["S0LEADS", "#engineering", "UDAN"]
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    fake.usergroups["S0LEADS"] = {"handle": "eng-leads", "users": {CAROL}}
    eng = fake.add_channel("engineering", members={BOT_USER_ID})
    bot = await make_bot(playbooks=tmp_path)

    inc, channel = await bot.declare("sev1 Big one")
    assert [b["title"] for b in channel.bookmarks] == ["War room", "Status page"]
    texts = [m.text for m in channel.messages]
    assert any("War room for INC-1: <https://meet.example.com/bridge|War room>" in t
               for t in texts)
    assert any(t.startswith("<!subteam^S0LEADS>: SEV1 declared") for t in texts)
    assert "UDAN" in channel.members
    assert [m.text for m in eng.messages if f"<#{inc.channel_id}>" in m.text]
    card = channel.message(inc.card_ts)
    assert "<https://status.example.com|Status page>" in json.dumps(card.blocks)

    small, small_channel = await bot.declare("sev3 Small one")
    assert [b["title"] for b in small_channel.bookmarks] == ["Status page"]
    assert not any("War room" in m.text for m in small_channel.messages)
    assert "UDAN" not in small_channel.members and small.severity == "SEV3"


@pytest.mark.parametrize(("links", "expected"), [
    ([{"title": "x", "url": "ftp://x"}], "links[0].url"),
    ([{"title": "x", "url": "https://x", "severities": ["SEV7"]}],
     "links[0].severities: unknown severity 'SEV7'"),
])
def test_bad_links_stop_start_up(links, expected: str) -> None:
    pb = json.loads(json.dumps(DEFAULT))
    pb["links"] = links
    with pytest.raises(PlaybookError) as err:
        parse_playbook(yaml.safe_dump(pb), "pb.yml")
    assert expected in str(err.value)
