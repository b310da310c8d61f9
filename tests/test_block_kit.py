"""Everything Foghorn builds stays inside Block Kit's rules, whatever people type.

The strict fake checks each message and view the bot really sends during the suite; these
tests drive the pure builders with arbitrary text (any script, `&<>`, long links) so that the
limits hold for input no scripted test thought of. Each rule the fake enforces is itself
tested against a payload that breaks it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.incidents.model import Incident, TimelineEntry
from bot.playbooks import Checklist, ChecklistItem, load_playbooks
from bot.slack import blocks
from bot.slack.blocks import Presenter
from bot.slack.text import escape_within
from bot.testing.blockkit import RULES, message_problems, view_problems

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = load_playbooks(ROOT / "playbooks")
PRESENTER = Presenter(PLAYBOOK, ZoneInfo("UTC"))
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# Text as people type it: any script, markup characters, emoji, long runs.
typed = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400)
markup = st.text(alphabet="&<>|*_~`@#!ü日本語", min_size=1, max_size=300)
words = st.one_of(typed, markup)
links = st.builds(lambda path: "https://runbooks.example.com/" + path,
                  st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/-_", max_size=450))


def _incident(title: str, summary: str | None = None, **over: object) -> Incident:
    fields: dict[str, object] = {
        "id": 7, "title": title, "description": title, "severity": "SEV1",
        "status": "investigating", "is_private": False, "declared_by": "UALICE",
        "declared_at": NOW - timedelta(hours=1), "last_update_at": NOW,
        "channel_id": "C0INC7", "card_ts": "1.000001", "summary": summary,
        "roles": {"ic": "UBOB"},
    }
    fields.update(over)
    return Incident(**fields)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=words, summary=words)
def test_cards_reminders_and_confirmations_fit_whatever_the_text(title: str, summary: str
                                                                 ) -> None:
    inc = _incident(title)
    for _, built in (PRESENTER.card(inc),
                     PRESENTER.card(_incident(title, summary, status="resolved",
                                              resolved_at=NOW, resolved_by="UBOB")),
                     PRESENTER.update_reminder(inc, timedelta(minutes=31)),
                     PRESENTER.postmortem_reminder(inc),
                     PRESENTER.confirm_resolve([summary] * 40, 2**31)):
        assert message_problems(built) == []
    assert view_problems(PRESENTER.update_modal(inc)) == []
    assert view_problems(PRESENTER.declare_modal("C0GENERAL", "SEV2", title[:3000])) == []
    home = PRESENTER.home("UBOB", [inc] * 120, [_incident(title, summary, status="resolved",
                                                          resolved_at=NOW)] * 5, NOW)
    assert view_problems(home) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(words.map(lambda t: t[:150]), st.none() | links),
                      min_size=1, max_size=40),
       ticked=st.sets(st.integers(0, 39)))
def test_checklists_fit_whatever_the_items_and_links(
        texts: list[tuple[str, str | None]], ticked: set[int]) -> None:
    items = tuple(ChecklistItem(text=t, link=link) for t, link in texts)
    cl = Checklist(id="check", title="Check & <verify>", when="declare", items=items)
    _, built = PRESENTER.checklist(_incident("x"), cl, ticked)
    assert message_problems(built) == []
    shown = "".join(str(b) for b in built)
    for _, link in texts:  # every link is still reachable from the message
        assert link is None or f"<{link}|" in shown


@settings(max_examples=30, deadline=None)
@given(texts=st.lists(words, min_size=1, max_size=60))
def test_the_timeline_fits_whatever_was_said(texts: list[str]) -> None:
    entries = [TimelineEntry(i, 7, "message", NOW, "UBOB", t, {}) for i, t in enumerate(texts)]
    _, built = PRESENTER.timeline(_incident("x"), entries, len(entries) + 500)
    assert message_problems(built) == []


def test_reminder_buttons_have_distinct_action_ids() -> None:
    """Slack answers invalid_blocks for two equal action_ids in one block: the defect that
    kept every update reminder out of real workspaces."""
    _, built = PRESENTER.update_reminder(_incident("x"), timedelta(minutes=30))
    ids = [e["action_id"] for b in built if b["type"] == "actions" for e in b["elements"]]
    assert len(ids) == len(set(ids)) == 3
    assert all(blocks.SNOOZE_ACTION.match(i) for i in ids[1:])


def test_resolve_anyway_keeps_a_long_non_latin_summary_off_the_button() -> None:
    summary = "決済システムの障害を修正しました。" * 20  # 340 characters, 2,000+ as JSON
    _, built = PRESENTER.confirm_resolve(["Validation: run the smoke tests"], 12)
    [button] = built[1]["elements"]
    assert button["value"] == "12" and summary not in str(built)


def test_escape_within_counts_the_escaped_text() -> None:
    assert len(escape_within("<" * 100, 75)) <= 75
    assert escape_within("a & b", 75) == "a &amp; b"
    assert not escape_within("&" * 100, 75).endswith("&amp…")


def _button_block(**over: object) -> list[dict[str, object]]:
    button = {"type": "button", "action_id": "a", "value": "v",
              "text": {"type": "plain_text", "text": "Go"}, **over}
    return [{"type": "actions", "block_id": "b", "elements": [button]}]


def _checkboxes(n: int, **option: object) -> list[dict[str, object]]:
    options = [{"text": {"type": "mrkdwn", "text": f"item {i}"}, "value": str(i), **option}
               for i in range(n)]
    return [{"type": "actions", "elements": [
        {"type": "checkboxes", "action_id": "c", "options": options}]}]


def _section(text: str, block_id: str | None = None) -> dict[str, object]:
    block: dict[str, object] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


@pytest.mark.parametrize(("blocks_", "problem"), [
    ([*_button_block(), {"type": "actions", "block_id": "b2", "elements": [
        {"type": "button", "action_id": "x", "text": {"type": "plain_text", "text": "1"}},
        {"type": "button", "action_id": "x", "text": {"type": "plain_text", "text": "2"}}]}],
     "duplicate action_id"),
    ([_section("a", "same"), _section("b", "same")], "duplicate block_id"),
    (_button_block(text={"type": "plain_text", "text": "x" * 76}), "75"),
    (_button_block(value="v" * 2001), "2000"),
    (_button_block(text={"type": "mrkdwn", "text": "Go"}), "plain_text"),
    (_checkboxes(11), "10 options"),
    (_checkboxes(1, description={"type": "mrkdwn", "text": "d" * 76}), "description"),
    ([{"type": "actions", "elements": [{"type": "checkboxes", "action_id": "c", "options": [
        {"text": {"type": "mrkdwn", "text": "t" * 76}, "value": "1"}]}]}], "75"),
    ([{"type": "actions", "elements": [{"type": "checkboxes", "action_id": "c", "options": [
        {"text": {"type": "mrkdwn", "text": "t"}, "value": "v" * 151}]}]}], "150"),
    ([{"type": "actions", "elements": [{"type": "static_select", "action_id": "s",
                                        "placeholder": {"type": "plain_text", "text": "p"},
                                        "options": [
        {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)}
        for i in range(101)]}]}], "100"),
    ([_section("s" * 3001)], "3000"),
    ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "150"),
    ([_section("x")] * 51, "50 blocks"),
    ([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}],
     "unknown field `colour`"),
    ([{"type": "input", "label": {"type": "plain_text", "text": "l"},
       "element": {"type": "plain_text_input", "action_id": "v"}}], "not supported in messages"),
    ([{"type": "sparkle"}], "unsupported block type"),
])
def test_the_fake_refuses_what_slack_refuses(blocks_: list[dict[str, object]],
                                             problem: str) -> None:
    problems = message_problems(blocks_)
    assert any(problem in p for p in problems), problems
    assert all("[json-pointer:/blocks" in p for p in problems)


def _modal(**over: object) -> dict[str, object]:
    return {"type": "modal", "callback_id": "m", "title": {"type": "plain_text", "text": "T"},
            "submit": {"type": "plain_text", "text": "Go"},
            "blocks": [_section("x")], **over}


@pytest.mark.parametrize(("view", "problem"), [
    (_modal(title={"type": "plain_text", "text": "t" * 25}), "24"),
    (_modal(submit={"type": "plain_text", "text": "s" * 25}), "24"),
    (_modal(close={"type": "plain_text", "text": "c" * 25}), "24"),
    (_modal(private_metadata="m" * 3001), "3000"),
    (_modal(blocks=[_section(str(i)) for i in range(101)]), "100"),
    ({"type": "home", "blocks": [_section(str(i)) for i in range(101)]}, "100"),
    (_modal(submit=None, blocks=[{"type": "input", "label": {"type": "plain_text", "text": "l"},
                                  "element": {"type": "plain_text_input", "action_id": "v"}}]),
     "submit"),
    (_modal(blocks=[{"type": "input", "label": {"type": "plain_text", "text": "l"},
                     "element": {"type": "plain_text_input", "action_id": "v",
                                 "max_length": 3001}}]), "3000"),
])
def test_the_fake_refuses_views_slack_refuses(view: dict[str, object], problem: str) -> None:
    problems = view_problems({k: v for k, v in view.items() if v is not None})
    assert any(problem in p for p in problems), problems


def test_every_rule_names_its_source() -> None:
    assert all(r.source.startswith("https://docs.slack.dev/") and r.limit > 0
               for r in RULES.values())
