"""What the incident service needs from outside, one narrow port per part of the service.

The Slack publisher (bot.slack.publisher) implements the four chat ports; each part of the
service (declaring, reminders, records, checklists) holds only the one it uses, so a new
subject adds its own port (or, better, subscribes to incident events) instead of growing a
shared one. Every chat method takes the incident first: it says which workspace the call
is for."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from bot.incidents.errors import UserError
from bot.incidents.model import Incident
from bot.playbooks import Checklist, EscalationStep, IncidentType


class ChannelChat(Protocol):
    """Making and keeping the incident's channel (declaring, types, who may act)."""

    async def create_channel(self, inc: Incident, name: str) -> str: ...
    async def own_channel(self, inc: Incident, name: str, since: datetime) -> str | None: ...
    async def find_posted(self, inc: Incident, what: str) -> str | None: ...
    async def links_and_notices(self, inc: Incident, *, resumed: bool) -> None: ...
    async def post_card(self, inc: Incident) -> str: ...
    async def pin_card(self, inc: Incident) -> None: ...
    async def invite(self, inc: Incident, users: list[str]) -> None: ...
    async def is_member(self, inc: Incident, user: str) -> bool: ...
    async def set_topic(self, inc: Incident) -> None: ...
    async def announce_declared(self, inc: Incident) -> str: ...
    async def post_runbook(self, inc: Incident, kind: IncidentType) -> None: ...


class ReminderChat(Protocol):
    """What reminders, nudges and escalations say (bot.incidents.firing)."""

    async def remind_update(self, inc: Incident, reminder_id: int, since: timedelta) -> None: ...
    async def nudge_commander(self, inc: Incident, reminder_id: int, waited: timedelta
                              ) -> None: ...
    async def escalate(self, inc: Incident, reminder_id: int, step: EscalationStep, *,
                       in_channel: bool = True) -> None: ...
    async def remind_postmortem(self, inc: Incident, reminder_id: int) -> None: ...
    async def reminder_already_posted(self, inc: Incident, reminder_id: int,
                                      since: datetime) -> bool: ...
    async def snoozed(self, inc: Incident, by: str, until: datetime) -> None: ...
    async def channel_lost(self, inc: Incident, error: str) -> None: ...
    async def refresh_card(self, inc: Incident) -> None: ...


class RecordChat(Protocol):
    """Notes, names for the draft, and the postmortem (bot.incidents.records)."""

    async def note_added(self, inc: Incident, user: str, text: str) -> None: ...
    async def display_names(self, inc: Incident, users: set[str]) -> dict[str, str]: ...
    async def upload_postmortem(self, inc: Incident, filename: str, content: str) -> None: ...
    async def postmortem_done(self, inc: Incident, by: str) -> None: ...


class ChecklistChat(Protocol):
    """Posting and refreshing checklists (bot.incidents.checklists)."""

    async def post_checklist(self, inc: Incident, checklist: Checklist, ticked: set[int]
                             ) -> str: ...
    async def refresh_checklist(self, inc: Incident, checklist: Checklist) -> None: ...


class ChatPort(ChannelChat, ReminderChat, RecordChat, ChecklistChat, Protocol):
    """All four chat ports in one object, as the Slack publisher provides them."""


class PagerPort(Protocol):
    """Paging on-call (implemented by bot.paging.pager): the page and its event stored
    (the event's id; None if it was made already), then sent by the outbox."""

    async def page(self, inc: Incident, target: str, *, key: str, reason: str,
                   by: str | None = None) -> int | None: ...
    def targets(self) -> list[str]: ...


class NoPager:
    """Paging when no pager is configured (the playbook is checked against the settings at
    start-up, so only `/incident page` can reach this)."""

    async def page(self, inc: Incident, target: str, *, key: str, reason: str,
                   by: str | None = None) -> int | None:
        raise UserError("Paging is not set up here: set PAGERDUTY_KEYS or OPSGENIE_KEYS.")

    def targets(self) -> list[str]:
        return []
