"""The `/incident` command parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.playbooks import load_playbooks
from bot.slack import parsing as p

PLAYBOOK = load_playbooks(Path(__file__).resolve().parent.parent / "playbooks")
ME = "UME"


def parse(text: str) -> p.Command:
    return p.parse(text, ME, PLAYBOOK)


@pytest.mark.parametrize("sev", ["sev1", "SEV1", "SEV-1", "Sev_1", "p0", "critical"])
def test_declare_accepts_severity_spellings(sev: str) -> None:
    assert parse(f"declare {sev} Checkout down") == p.Declare("Checkout down", "SEV1")


def test_declare_without_severity_and_without_title() -> None:
    assert parse("declare Checkout   down") == p.Declare("Checkout down", None)
    assert parse("declare") == p.DeclareModal()
    assert parse("declare sev2") == p.DeclareModal("SEV2")
    assert parse("declare --private sev2 Leak") == p.Declare("Leak", "SEV2", is_private=True)


def test_declare_with_an_unknown_severity() -> None:
    cmd = parse("declare sev9 Broken")
    assert isinstance(cmd, p.Usage) and "`SEV1` (Critical)" in cmd.message
    # A first word that merely looks nothing like a severity is part of the title.
    assert parse("declare severe latency") == p.Declare("severe latency", None)


def test_role() -> None:
    assert parse("role ic <@U42|ann>") == p.AssignRole("ic", "U42")
    assert parse("assign comms me") == p.AssignRole("comms", ME)
    assert isinstance(parse("role ic ann"), p.Usage)
    assert isinstance(parse("role wizard <@U1>"), p.Usage)


def test_update_severity_resolve_list_help() -> None:
    assert parse("update Identified rolled back") == p.PostUpdate("identified", "rolled back")
    assert parse("severity P1") == p.ChangeSeverity("SEV2")
    assert parse("resolve") == p.Resolve("")
    assert parse("resolve fixed <!here>") == p.Resolve("fixed @here")
    assert parse("list") == p.ListOpen()
    assert parse("") == p.Help() == parse("help")


def test_unknown_subcommand_points_to_help_not_the_whole_of_it() -> None:
    cmd = parse("frobnicate now")
    assert isinstance(cmd, p.Usage) and not cmd.show_help and "`frobnicate`" in cmd.message
    assert "`/incident help`" in cmd.message


def test_echoed_words_are_escaped() -> None:
    cmd = parse("<!channel>")
    assert isinstance(cmd, p.Usage) and "<!channel>" not in cmd.message


@given(st.text(max_size=300), st.sampled_from(["", "declare ", "role ", "update ",
                                              "severity ", "resolve "]))
def test_any_text_gets_an_answer(text: str, prefix: str) -> None:
    cmd = parse(prefix + text)
    assert isinstance(cmd, p.Command)
    if isinstance(cmd, p.Usage):
        assert cmd.message and "<!" not in cmd.message
