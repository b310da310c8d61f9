"""The fake Slack's world: its workspace ids, and what it keeps (channels, messages, calls,
faults), shared by the server (fake_slack) and its Web API methods (slack_methods)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0FOGHORN"
BOT_USER_ID = "UFOGHORNBOT"
BOT_ID = "BFOGHORN"
INCIDENTS_CHANNEL_ID = "C0INCIDENTS"
TOMBSTONE_TEXT = "This message was deleted."

_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")


@dataclass
class Message:
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    edited: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    subtype: str | None = None  # e.g. "tombstone": a deleted thread parent


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    creator: str = "USLACKBOT"
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False
    messages: list[Message] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    team: str = TEAM_ID  # the workspace it belongs to
    # Slack Connect: the other organisations' workspaces it is shared with.
    shared_with: set[str] = field(default_factory=set)

    def seen_by(self, team: str) -> bool:
        return team == self.team or team in self.shared_with or self.id.startswith("D")

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "creator": self.creator,
            "num_members": len(self.members),
            "is_shared": bool(self.shared_with),
            "is_ext_shared": bool(self.shared_with),
            "context_team_id": self.team,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }

    def message(self, ts: str) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    http_method: str
    status: int = 200
    error: str | None = None
    started: float = 0.0  # time.monotonic() when the request arrived
    ended: float = 0.0  # ... and when its answer was ready
    team: str = ""  # the workspace of the token it was made with
    types: set[str] = field(default_factory=set)  # conversation types the call touched


@dataclass
class Fault:
    status: int
    times: int
    retry_after: int = 1
    error: str | None = None
    when: Callable[[dict[str, Any]], bool] | None = None  # only calls whose args match


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


Handler = Callable[[dict[str, Any]], dict[str, Any]]
