"""Roles from the card's buttons and pickers, and from `/incident role`."""

from __future__ import annotations

from bot.slack import blocks
from bot.store import entry_rows
from tests.conftest import ALICE, BOB, CAROL, DAN, GENERAL, Bot


def _role_text(card: list[dict], role_name: str) -> str:
    return next(b["text"]["text"] for b in card
                if b["type"] == "section" and b.get("text", {}).get("text", "").startswith(
                    f"*{role_name}*"))


async def test_take_button_assigns_the_clicker_and_updates_card_in_place(bot: Bot) -> None:
    inc, channel = await bot.declare()
    reply = await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=inc.card_ts,
                                  action_id=blocks.ROLE_TAKE,
                                  block_id=blocks.role_block_id(inc.id, "ic"))
    assert reply.status == 200
    await bot.settle()

    assert (await bot.incident(inc.id)).roles == {"ic": BOB}
    card = channel.message(inc.card_ts)
    assert card.edited and channel.messages[0].ts == inc.card_ts  # updated, not re-posted
    assert _role_text(card.blocks, "Incident Commander") == f"*Incident Commander*: <@{BOB}>"
    picker = next(b for b in card.blocks if b.get("block_id") == blocks.role_block_id(
        inc.id, "ic"))["elements"][1]
    assert picker["initial_user"] == BOB
    assert BOB in channel.members
    assert f"<@{BOB}> is now the *Incident Commander*" in channel.messages[-1].text
    [brief] = bot.ephemerals_for(BOB)
    assert "You are now the *Incident Commander*" in brief and "Declare incident resolved" in brief
    assert f"IC: <@{BOB}>" in channel.topic


async def test_picker_assigns_the_chosen_person(bot: Bot) -> None:
    inc, channel = await bot.declare()
    await bot.slack.pick_user(user=ALICE, channel=inc.channel_id, message_ts=inc.card_ts,
                              action_id=blocks.ROLE_PICK,
                              block_id=blocks.role_block_id(inc.id, "tl"), selected=CAROL)
    await bot.settle()
    assert (await bot.incident(inc.id)).roles == {"tl": CAROL}
    assert CAROL in channel.members
    assert f"<@{CAROL}> is now the *Tech Lead* (assigned by <@{ALICE}>)" in (
        channel.messages[-1].text)
    assert _role_text(channel.message(inc.card_ts).blocks, "Tech Lead") == (
        f"*Tech Lead*: <@{CAROL}>")


async def test_handover_replaces_the_holder_and_says_so(bot: Bot) -> None:
    inc, channel = await bot.declare()
    await bot.command("role ic me", user=BOB, channel=inc.channel_id)
    await bot.command(f"role ic <@{DAN}|dan>", user=BOB, channel=inc.channel_id)
    assert (await bot.incident(inc.id)).roles == {"ic": DAN}
    assert f"<@{DAN}> takes over as *Incident Commander* from <@{BOB}>" in (
        channel.messages[-1].text)
    async with bot.fh.db.read() as s:
        entries = [e for e in await entry_rows.list_entries(s, inc.id) if e.kind == "role_assigned"]
    assert [(e.data["user"], e.data["previous"]) for e in entries] == [(BOB, None), (DAN, BOB)]


async def test_taking_a_role_you_hold_changes_nothing(bot: Bot) -> None:
    inc, channel = await bot.declare()
    for _ in range(2):
        await bot.slack.click(user=BOB, channel=inc.channel_id, message_ts=inc.card_ts,
                              action_id=blocks.ROLE_TAKE,
                              block_id=blocks.role_block_id(inc.id, "scribe"))
        await bot.settle()
    assert "already the Scribe" in bot.fake.responses[-1]["text"]
    assert bot.fake.responses[-1]["response_type"] == "ephemeral"
    assert sum("is now the *Scribe*" in m.text for m in channel.messages) == 1


async def test_role_command_bad_input(bot: Bot) -> None:
    inc, _ = await bot.declare()
    ack = await bot.command("role ic bob", channel=inc.channel_id)
    assert "Mention the person" in ack
    ack = await bot.command("role chef <@UBOB>", channel=inc.channel_id)
    assert "Unknown role `chef`" in ack and "`ic` (Incident Commander)" in ack
    ack = await bot.command("role", channel=inc.channel_id)
    assert "Which role?" in ack
    await bot.command("role ic <@UBOB|bob>", channel=GENERAL)
    assert "works inside an incident channel" in bot.fake.responses[-1]["text"]
    assert (await bot.incident(inc.id)).roles == {}


async def test_role_aliases_are_accepted(bot: Bot) -> None:
    inc, _ = await bot.declare()
    await bot.command("role Incident-Commander me", user=CAROL, channel=inc.channel_id)
    await bot.command("role tech-lead me", user=DAN, channel=inc.channel_id)
    assert (await bot.incident(inc.id)).roles == {"ic": CAROL, "tl": DAN}
