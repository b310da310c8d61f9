"""Commands that forgive a person under stress (issue #17, first part): severities and roles
as people type them, "did you mean", one answer, one nudge."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.playbooks import load_playbooks
from bot.slack import parsing
from tests.conftest import ALICE, BOB, GENERAL, ROOT, Bot
from tests.test_reminders import at, said

PB = load_playbooks(Path(ROOT) / "playbooks")
LEVELS = {"SEV1": ("1", "P0", "critical"), "SEV2": ("2", "P1", "major"),
          "SEV3": ("3", "P2", "minor"), "SEV4": ("4", "P3", "low")}


@st.composite
def spelling(draw: st.DrawFn) -> tuple[str, str]:
    """(a way of typing a severity, the severity it means)."""
    sev = draw(st.sampled_from(sorted(LEVELS)))
    number, p_alias, word = LEVELS[sev]
    prefix = draw(st.sampled_from(["sev", "SEV", "Sev", "s", "S"]))
    sep = draw(st.sampled_from(["", " ", "-", "_"]))
    p_sep = draw(st.sampled_from(["", " "]))
    typed = draw(st.sampled_from([
        f"{prefix}{sep}{number}", f"{p_alias[0]}{p_sep}{p_alias[1]}",
        f"{p_alias[0].lower()}{p_sep}{p_alias[1]}", word, word.upper()]))
    return typed, sev


@settings(max_examples=300, deadline=None)
@given(spelling())
def test_every_command_accepts_the_same_severity_spellings(typed_and_meant) -> None:
    typed, meant = typed_and_meant
    declared = parsing.parse(f"declare {typed} Checkout down", ALICE, PB)
    assert declared == parsing.Declare(title="Checkout down", severity=meant), typed
    assert parsing.parse(f"severity {typed}", ALICE, PB) == parsing.ChangeSeverity(meant)
    modal = parsing.parse(f"declare {typed}", ALICE, PB)
    assert modal == parsing.DeclareModal(severity=meant)


def test_an_unknown_severity_is_answered_alike_with_the_valid_ones() -> None:
    for text in ("declare sev 9 Checkout down", "severity sev 9", "severity p9"):
        answer = parsing.parse(text, ALICE, PB)
        assert isinstance(answer, parsing.Usage), text
        assert "Unknown severity" in answer.message and "`SEV1` (Critical)" in answer.message


async def test_declare_sev_space_1_is_a_sev1(bot: Bot) -> None:
    reply = await bot.slack.command("declare sev 1 Checkout down", user=ALICE, channel=GENERAL)
    assert "Declaring *Checkout down* as SEV1" in reply.text
    await bot.settle()
    [inc] = await bot.open_incidents()
    assert (inc.severity, inc.title) == ("SEV1", "Checkout down")  # before: SEV3 "sev 1 …"


async def test_multi_word_role_names(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Roles by name")
    await bot.command("role Incident Commander me", user=BOB, channel=inc.channel_id)
    await bot.command("role tech lead <@UALICE|alice>", user=BOB, channel=inc.channel_id)
    stored = await bot.incident(inc.id)
    assert stored.roles == {"ic": BOB, "tl": ALICE}


async def test_an_unknown_subcommand_suggests_the_nearest_and_shows_only_its_usage(
        bot: Bot) -> None:
    reply = await bot.slack.command("resolved all good", user=ALICE, channel=GENERAL)
    assert "did you mean `resolve`?" in reply.text
    assert "/incident resolve [summary]" in reply.text
    assert "/incident declare" not in reply.text and len(reply.text.splitlines()) == 2
    nothing = await bot.slack.command("xyzzy", user=ALICE, channel=GENERAL)
    assert "`/incident help` lists every command" in nothing.text


async def test_postmortem_outside_an_incident_channel_speaks_once(bot: Bot) -> None:
    reply = await bot.slack.command("postmortem", user=ALICE, channel=GENERAL)
    await bot.settle()
    assert "works inside an incident channel" in reply.text
    assert "Building" not in reply.text and bot.fake.responses == []


async def test_after_downtime_one_nudge_says_how_long_it_has_been(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Nobody leads")  # response time 15 m: nudges at 15, 30
    await at(bot, inc, 40)  # both fell due while Foghorn was away
    [nudge] = said(bot, inc.channel_id, ":wave:")
    assert "after 40m" in nudge


async def _confirm(bot: Bot, user: str, channel: str, button: dict) -> None:
    """Click the one-click confirmation in the private answer, as `user`."""
    await bot.slack.interaction({
        "type": "block_actions", "user": {"id": user, "name": user.lower()},
        "api_app_id": "A0FOGHORN", "team": {"id": "T0FOGHORN"},
        "container": {"type": "message", "channel_id": channel, "is_ephemeral": True},
        "channel": {"id": channel}, "response_url": bot.fake.response_url(kind="actions"),
        "trigger_id": bot.fake.new_trigger_id(),
        "actions": [{**button, "block_id": "c", "action_ts": "1"}]})
    await bot.settle()


async def test_a_big_severity_drop_asks_first(bot: Bot) -> None:
    inc, _ = await bot.declare("sev1 Big drop")
    await bot.command("severity p2", user=BOB, channel=inc.channel_id)
    ask = bot.fake.responses[-1]["text"]
    assert "from *SEV1 (Critical)* to *SEV3 (Minor)*" in ask
    assert (await bot.incident(inc.id)).severity == "SEV1"  # not yet
    [button] = bot.fake.responses[-1]["blocks"][1]["elements"]
    await _confirm(bot, ALICE, inc.channel_id, button)  # someone else's click: refused
    assert (await bot.incident(inc.id)).severity == "SEV1"
    await _confirm(bot, BOB, inc.channel_id, button)
    assert (await bot.incident(inc.id)).severity == "SEV3"


async def test_which_changes_ask(bot: Bot) -> None:
    inc, _ = await bot.declare("sev3 Small steps")
    await bot.command("severity sev2", channel=inc.channel_id)  # one level up: at once
    assert (await bot.incident(inc.id)).severity == "SEV2"
    await bot.command("severity sev4", channel=inc.channel_id)  # (asked, not clicked)
    await bot.command("severity sev1", channel=inc.channel_id)  # raising never waits
    assert (await bot.incident(inc.id)).severity == "SEV1"
    await bot.command("severity sev2", channel=inc.channel_id)  # lowering the top: asks
    assert (await bot.incident(inc.id)).severity == "SEV1"
    assert bot.fake.responses[-1]["blocks"][1]["elements"][0]["action_id"] == \
        "severity_confirm"


async def test_the_playbook_can_turn_the_question_off(make_bot, tmp_path) -> None:
    import yaml

    pb = yaml.safe_load((Path(ROOT) / "playbooks" / "default.yml").read_text())
    pb["confirm_severity_changes"] = False
    (tmp_path / "default.yml").write_text(yaml.safe_dump(pb))
    bot = await make_bot(playbooks=tmp_path)
    inc, _ = await bot.declare("sev1 No questions")
    await bot.command("severity sev4", channel=inc.channel_id)
    assert (await bot.incident(inc.id)).severity == "SEV4"
