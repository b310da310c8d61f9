"""Incident events: what happened to an incident, as the reactions to it need to know.

A change writes its events in the same transaction as the change itself (through an
`EventLog`), so an event exists exactly when its change does. Every reaction (the card, the
channel's messages, announcements, checklists, pages, the Home, alert posts; next the status
page, trackers, on-call and drills) is a subscriber of the kinds it needs (bot.reactions) and
gets each event once, in order per incident, retried until done or parked (bot.outbox).

Each kind's `data`:
- DECLARED: severity, type, private
- SETUP_DONE: the channel, card and announcement exist (the declare's Slack work is done)
- ROLE_CHANGED: role, user, previous, by
- SEVERITY_CHANGED: old, new, by
- STATUS_UPDATED: status, previous, message, by
- TYPE_CHANGED: old, new, by
- RESOLVED: by, previous_status
- CHANNEL_CHANGED: what changed of channel_name, is_private, is_shared; by
- PAGE_REQUESTED: page (the pages row), target
- ALERT_TRIAGE: group (the alert group to post for a person to decide), notification
- ALERT_CHANGES: lines, auto (the route resolves on its own): posted, coalesced, in the
  incident's channel
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Kind(StrEnum):
    DECLARED = "declared"
    SETUP_DONE = "setup_done"
    ROLE_CHANGED = "role_changed"
    SEVERITY_CHANGED = "severity_changed"
    STATUS_UPDATED = "status_updated"
    TYPE_CHANGED = "type_changed"
    RESOLVED = "resolved"
    CHANNEL_CHANGED = "channel_changed"
    PAGE_REQUESTED = "page_requested"
    ALERT_TRIAGE = "alert_triage"
    ALERT_CHANGES = "alert_changes"


# Every kind that changes what the incident's card, topic and the App Home show.
CHANGES = frozenset({Kind.SETUP_DONE, Kind.ROLE_CHANGED, Kind.SEVERITY_CHANGED,
                     Kind.STATUS_UPDATED, Kind.TYPE_CHANGED, Kind.RESOLVED,
                     Kind.CHANNEL_CHANGED})


@dataclass(frozen=True)
class Event:
    id: int
    incident_id: int | None
    kind: Kind
    data: dict[str, Any]
    occurred_at: datetime


class Session(Protocol):
    def add(self, instance: object) -> None: ...


class EventLog(Protocol):
    """Writes events into the caller's transaction (sync or async session alike); the
    returned handle's `.id` is the event's once the transaction has flushed."""

    def record(self, session: Session, incident_id: int | None, kind: Kind,
               data: dict[str, Any], at: datetime, *, stream: str | None = None) -> Any: ...


class Reactions(Protocol):
    """Runs the reactions to events just committed (bot.outbox.Relay)."""

    async def deliver(self, event_ids: list[int]) -> None: ...

    def soon(self, event_ids: list[int]) -> None: ...

    def poke(self) -> None: ...
