"""Plain domain objects: what an incident is, independent of Slack and of SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


RESOLVED = "resolved"
# What every surface showing them can carry: a title goes into the topic, headers, lists and
# messages; updates, notes, summaries and impact into one message section each.
# Slack errors that mean Foghorn cannot post in a channel until a person acts.
CHANNEL_GONE = frozenset({"is_archived", "not_in_channel", "channel_not_found"})
TITLE_LIMIT = 200
TEXT_LIMIT = 2500


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    description: str
    severity: str
    status: str
    is_private: bool
    declared_by: str
    declared_at: datetime
    last_update_at: datetime
    setup_done: bool = False
    channel_id: str | None = None
    channel_name: str | None = None
    card_ts: str | None = None
    announcement_ts: str | None = None
    origin_channel_id: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    summary: str | None = None
    postmortem_at: datetime | None = None  # the last draft built
    postmortem_done_at: datetime | None = None  # someone marked the postmortem done
    type: str | None = None  # the playbook type's id (None: declared without types)
    detected_at: datetime | None = None  # when monitoring saw it first (alert incidents)
    history_synced_ts: str | None = None
    team_id: str = ""
    enterprise_id: str | None = None  # the workspace's Enterprise Grid organisation
    is_shared: bool = False  # the channel is shared with another organisation
    roles: dict[str, str] = field(default_factory=dict)
    version: int = 0  # counted up by every stored change
    channel_lost: str | None = None  # why Foghorn cannot post in its channel, if it cannot
    setup_interrupted: bool = False  # being completed after a crash (not stored)

    @property
    def label(self) -> str:
        return f"INC-{self.id}"

    @property
    def is_resolved(self) -> bool:
        return self.status == RESOLVED



@dataclass(frozen=True)
class TimelineEntry:
    id: int
    incident_id: int
    kind: str
    occurred_at: datetime
    actor: str | None
    text: str
    data: dict[str, Any]
    slack_ts: str | None = None
    thread_ts: str | None = None
    key_event: bool = False
    deleted: bool = False
    edited_at: datetime | None = None


@dataclass(frozen=True)
class Reminder:
    """A claimed reminder row, as the dispatcher sees it."""

    id: int
    incident_id: int
    kind: str
    step: int
    due_at: datetime
    attempts: int
