"""Block Kit and message text builders: pure functions of domain objects.

Everything a person reads comes from here. User text is stored plain and escaped on the way
out (`text.escape`), so nothing typed into a title, update or summary becomes a live mention.
One module per surface (card, checklists, runbooks, reminders, modals, home, reports,
messages); the
`Presenter` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.blocks.card import Card
from bot.slack.blocks.checklists import Checklists
from bot.slack.blocks.common import (
    CHECKBOXES_PER_ELEMENT,
    CHECKLIST_TICK,
    DECLARE_BUTTON,
    DECLARE_MODAL,
    HEADER_LIMIT,
    HOME_INCIDENTS,
    HOME_MINE,
    HOME_RESOLVED,
    MESSAGE_BLOCKS,
    POSTMORTEM_BUILD,
    POSTMORTEM_DONE,
    REMINDER_SNOOZE,
    REMINDER_UPDATE,
    RESOLVE_CONFIRM,
    ROLE_PICK,
    ROLE_TAKE,
    SECTION_LIMIT,
    SEVERITY_CONFIRM,
    SNOOZE_ACTION,
    SNOOZE_MINUTES,
    TOPIC_LIMIT,
    UPDATE_MODAL,
    Blocks,
    checklist_block_id,
    fill,
    parse_checklist_block_id,
    parse_role_block_id,
    role_block_id,
    snooze_action_id,
)
from bot.slack.blocks.home import Home
from bot.slack.blocks.messages import Messages
from bot.slack.blocks.modals import Modals
from bot.slack.blocks.reminders import Reminders
from bot.slack.blocks.reports import Reports
from bot.slack.blocks.runbooks import Runbooks

__all__ = [
    "CHECKBOXES_PER_ELEMENT",
    "CHECKLIST_TICK",
    "DECLARE_BUTTON",
    "DECLARE_MODAL",
    "HEADER_LIMIT",
    "HOME_INCIDENTS",
    "HOME_MINE",
    "HOME_RESOLVED",
    "MESSAGE_BLOCKS",
    "POSTMORTEM_BUILD",
    "POSTMORTEM_DONE",
    "REMINDER_SNOOZE",
    "REMINDER_UPDATE",
    "RESOLVE_CONFIRM",
    "ROLE_PICK",
    "ROLE_TAKE",
    "SECTION_LIMIT",
    "SEVERITY_CONFIRM",
    "SNOOZE_ACTION",
    "SNOOZE_MINUTES",
    "TOPIC_LIMIT",
    "UPDATE_MODAL",
    "Blocks",
    "Presenter",
    "checklist_block_id",
    "fill",
    "parse_checklist_block_id",
    "parse_role_block_id",
    "role_block_id",
    "snooze_action_id",
]


@dataclass(frozen=True)
class Presenter(Card, Checklists, Runbooks, Reminders, Modals, Home, Reports, Messages):
    """Every surface Foghorn shows, for one playbook and time zone."""
