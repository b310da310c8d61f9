"""The incident service's shared ground: the chat port it talks through, declare requests and
results, reading incidents, who may act, and helpers every subject uses."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.incidents import stats
from bot.incidents.errors import ChatError, UserError
from bot.incidents.events import Event, EventLog, Kind, Reactions, Session
from bot.incidents.model import Clock, Incident, utcnow
from bot.incidents.ports import (
    ChannelChat,
    ChatPort,
    ChecklistChat,
    NoPager,
    PagerPort,
    RecordChat,
    ReminderChat,
)
from bot.incidents.postmortem import PostmortemWriter
from bot.incidents.timeline import Timeline
from bot.logs import bind
from bot.offload import heavy, heavy_turn
from bot.playbooks import Playbook, normalize_key
from bot.store import entry_rows, repo
from bot.store.batch import GroupWriter
from bot.store.db import Database

log = logging.getLogger(__name__)


DUPLICATE_WINDOW = timedelta(seconds=120)
MAX_NAME_ATTEMPTS = 50
# How far before the declaration an adopted channel may have been created (clock skew).
ADOPT_MARGIN = timedelta(seconds=5)
ANYONE = object()  # assign_role: no expectation about the current holder
NOT_HERE = ("That button or form belongs to another channel's incident, so nothing was "
            "changed. Use the incident's own channel.")
OTHER_ORGANISATION = ("This channel is shared with another organisation, and its incident "
                      "is run by that organisation's Foghorn, so nothing was changed. Ask "
                      "them, or declare your own incident for your side.")
# A second click of the same Snooze button (a minute later, say) changes nothing.
SNOOZE_SLACK = timedelta(minutes=5)



class _Unrecorded:
    """No outbox (read-only uses of the service, such as `foghorn export`)."""

    def record(self, session: Session, incident_id: int | None, kind: Kind,
               data: dict[str, Any], at: datetime, *, stream: str | None = None) -> Any:
        raise RuntimeError("this service was built without an outbox: it cannot change "
                           "incidents")


class _NoReactions:
    async def deliver(self, event_ids: list[int]) -> None:
        return None

    def soon(self, event_ids: list[int]) -> None:
        return None

    def poke(self) -> None:
        return None


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    by: str
    severity: str | None = None
    description: str = ""
    is_private: bool | None = None  # None: as the type says (a security type is private)
    type: str | None = None  # None: the playbook's default type
    detected_at: datetime | None = None  # when it was noticed, if before the declare
    origin_channel: str | None = None
    team_id: str = ""
    enterprise_id: str | None = None  # the workspace's Enterprise Grid organisation


@dataclass(frozen=True)
class DeclareResult:
    incident: Incident
    duplicate: bool = False
    warnings: tuple[str, ...] = ()


def dedup_key(team_id: str, user: str, title: str) -> str:
    # Titles of emoji or punctuation alone fold to nothing: compare those as typed.
    key = normalize_key(title) or " ".join(title.split())
    raw = f"{team_id}|{user}|{key}"
    return hashlib.sha256(raw.encode()).hexdigest()[:64]



class ServiceBase:
    """What every part of the service shares: its collaborators, reading incidents, who may
    act, and the words messages use."""

    def __init__(
        self,
        db: Database,
        playbook: Playbook,
        chat: ChatPort,
        *,
        tz: ZoneInfo,
        clock: Clock = utcnow,
        events: EventLog | None = None,
        reactions: Reactions | None = None,
        pager: PagerPort | None = None,
        reminders_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = db
        # Each change records its events in its own transaction; the reactions to them
        # (the card, the channel, announcements, checklists, pages, the Home) are
        # subscribers that the outbox relay runs (bot.reactions).
        self.events: EventLog = events or _Unrecorded()
        self.reactions: Reactions = reactions or _NoReactions()
        self.playbook = playbook
        # The chat side, one narrow port per part of the service (bot.incidents.ports).
        self.channels: ChannelChat = chat
        self.reminding: ReminderChat = chat
        self.notes: RecordChat = chat
        self.checklist_chat: ChecklistChat = chat
        self.tz = tz
        self.clock = clock
        self.timeline = Timeline(db, clock=clock)
        self.pager: PagerPort = pager or NoPager()
        self.postmortems = PostmortemWriter(playbook, tz)
        # Declares arriving together are stored in one transaction (Slack waits for each).
        self._registrations: GroupWriter[dict[str, Any], int | Incident] = GroupWriter(
            db, lambda s, items: [self.store_declaration(s, i) for i in items],
            name="declare")
        # Called after reminder rows change, so the dispatcher can wake in time.
        self.reminders_changed = reminders_changed

    def store_declaration(self, session: Any, declaration: dict[str, Any]) -> int | Incident:
        """`repo.register_incident` (in a synchronous write transaction) and, for a new
        incident, its `declared` event: the new incident, or the existing one's id."""
        stored = repo.register_incident(session, **declaration)
        if isinstance(stored, Incident):
            self.record(session, stored, Kind.DECLARED, {
                "severity": stored.severity, "type": stored.type,
                "private": stored.is_private}, stored.declared_at)
        return stored

    def record(self, session: Session, inc: Incident | int, kind: Kind, data: dict[str, Any],
               at: datetime) -> Any:
        """Record an event of the incident in the change's own transaction."""
        incident_id = inc if isinstance(inc, int) else inc.id
        return self.events.record(session, incident_id, kind, data, at)

    async def react(self, *recorded: Any, quiet: bool = False) -> None:
        """Run the reactions to events just committed (the first failure of one that
        speaks in the incident's channel is raised, for the person to hear, unless
        `quiet`; every reaction is retried on its own regardless)."""
        try:
            await self.reactions.deliver([r.id for r in recorded])
        except Exception as exc:
            if not quiet:
                raise
            log.info("a reaction failed and will be retried: %s", exc)

    if TYPE_CHECKING:  # provided by the other parts of IncidentService (service.py)
        async def post_checklists(self, inc: Incident, when: str) -> None: ...
        async def checklist_state(self, incident_id: int) -> dict[str, set[int]]: ...
        async def _open_before_resolve(self, inc: Incident) -> list[str]: ...
        async def page_targets(self, inc: Incident, targets: tuple[str, ...], *, key: str,
                               reason: str) -> None: ...

    # ----- reading ------------------------------------------------------------------------
    async def get(self, incident_id: int) -> Incident | None:
        async with self.db.read() as s:
            inc = await repo.get_incident(s, incident_id)
        bind(incident=inc and inc.label)
        return inc

    async def incident_of(self, event: Event) -> Incident | None:
        """The incident an event is about, as stored now (None: none, or deleted)."""
        return await self.get(event.incident_id) if event.incident_id is not None else None

    async def in_channel(self, channel_id: str, command: str) -> Incident:
        async with self.db.read() as s:
            inc = await repo.get_by_channel(s, channel_id)
        bind(incident=inc and inc.label)
        if inc is None:
            raise UserError(
                f"`/incident {command}` works inside an incident channel. "
                "Use `/incident list` to find the one you mean."
            )
        return inc

    async def acting_in(self, channel_id: str | None, user: str,
                        incident_id: int | None = None, *,
                        team: tuple[str, str | None] | None = None) -> Incident:
        """The incident a click or a form acts on, provided it was made where that incident
        lives: in its own channel (a button) or naming it (a form's metadata), by someone
        who may see it (a member of a private incident's channel). Anything else is refused
        alike, so a refusal never tells whether a private incident exists."""
        async with self.db.read() as s:
            inc = await repo.get_by_channel(s, channel_id) if channel_id else None
        if inc is None or (incident_id is not None and inc.id != incident_id) or (
                inc.is_private and not await self.channels.is_member(inc, user)):
            log.info("refused an action made outside its incident's channel")
            raise UserError(NOT_HERE)
        bind(incident=inc.label)
        if team is not None:
            self.require_same_organisation(inc, *team)
        return inc

    async def channel_incident(self, channel_id: str) -> Incident | None:
        async with self.db.read() as s:
            return await repo.get_by_channel(s, channel_id)

    @staticmethod
    def require_same_organisation(inc: Incident, team_id: str,
                                  enterprise_id: str | None) -> None:
        """A channel shared between organisations (Slack Connect) that both installed
        Foghorn: each acts only on its own incidents, with its own token."""
        if inc.team_id and team_id != inc.team_id and not (
                inc.enterprise_id and enterprise_id == inc.enterprise_id):
            log.info("refused a request from another organisation in a shared channel")
            raise UserError(OTHER_ORGANISATION)

    async def list_open(self, viewer: str | None = None, team_id: str | None = None, *,
                        include_private: bool = False) -> list[Incident]:
        """Open incidents (of one workspace when `team_id` is given); private ones only for
        the people involved in them, unless `include_private`."""
        async with self.db.read() as s:
            found = await repo.list_open(s, team_id)
        return [i for i in found if include_private or visible_to(i, viewer)]

    async def recently_resolved(self, team_id: str | None, limit: int) -> list[Incident]:
        """The newest resolved incidents, private ones included (callers filter them with
        `visible_to` for each viewer)."""
        async with self.db.read() as s:
            return await repo.list_resolved(s, limit, team_id)

    async def stats(self, period: str, team_id: str | None = None) -> stats.Stats:
        """Incident metrics for the `period` (a key of stats.PERIODS) up to now."""
        return await load_stats(self.db, self.playbook, period, self.clock(), team_id)

    # ----- who may act ----------------------------------------------------------------------
    def _require_allowed(self, inc: Incident, action: str, user: str) -> None:
        """The playbook's `permissions` say who may `action`; anyone when it says nothing."""
        allowed = self.playbook.permissions.get(action)
        if not allowed or "anyone" in allowed:
            return
        if ("declarer" in allowed and user == inc.declared_by) or any(
                inc.roles.get(role) == user for role in allowed):
            return
        names = []
        for who in allowed:
            role = self.playbook.role(who)
            holder = inc.roles.get(who)
            if role is not None:
                names.append(f"the {role.name}" + (f" (<@{holder}>)" if holder else ""))
            elif who == "declarer":
                names.append(f"the declarer (<@{inc.declared_by}>)")
        verb = {"resolve": "resolve", "severity": "change the severity of",
                "update": "post updates to", "role": "assign roles in"}[action]
        raise UserError(f"Sorry, only {' or '.join(names)} may {verb} {inc.label}.")

    def require_open(self, inc: Incident | None) -> Incident:
        if inc is None:
            raise UserError("That incident no longer exists.")
        if inc.is_resolved:
            raise UserError(f"{inc.label} is already resolved.")
        return inc

    async def find(self, ref: str) -> Incident | None:
        """An incident by channel ID, channel name (with or without #) or INC-n label."""
        ref = ref.strip().lstrip("#")
        async with self.db.read() as s:
            if ref.upper().startswith("INC-") and ref[4:].isdigit():
                return await repo.get_incident(s, int(ref[4:]))
            return (await repo.get_by_channel(s, ref)
                    or await repo.get_by_channel_name(s, ref))

    # ----- vocabulary for messages --------------------------------------------------------
    def commander_of(self, inc: Incident) -> str | None:
        """Who holds the playbook's commanding role."""
        return self.playbook.commander_of(inc.roles)

    def severity_names(self) -> str:
        return ", ".join(f"`{s.id}` ({s.name})" for s in self.playbook.severities)

    def role_names(self) -> str:
        return ", ".join(f"`{r.id}` ({r.name})" for r in self.playbook.roles)

    def status_names(self) -> str:
        return ", ".join(f"`{s.id}`" for s in self.playbook.open_statuses)



async def load_stats(db: Database, playbook: Playbook, period: str, now: datetime,
                     team_id: str | None = None) -> stats.Stats:
    """Read what the figures need and compute them (also used by `foghorn stats`)."""
    since = now - stats.PERIODS[period]
    async with heavy_turn():  # one heavy job at a time, computed in a thread
        async with db.read() as s:  # one transaction: the incidents and entries agree
            found = await repo.list_declared_since(s, since, team_id)
            entries = await entry_rows.entries_of_declared_since(s, since, team_id, stats.KINDS)
        return await heavy(stats.compute, found, entries, playbook, period, now)


def visible_to(inc: Incident, viewer: str | None) -> bool:
    """Private incidents are shown only to the people involved in them."""
    return not inc.is_private or viewer in {inc.declared_by, *inc.roles.values()}


# Slack errors that waiting cures; a declare meeting one keeps trying for RETRY_FOR.
RETRYABLE = frozenset({"ratelimited", "connection_error", "internal_error", "fatal_error",
                       "service_unavailable", "request_timeout"})
RETRY_FOR = timedelta(minutes=30)
STORE_FOR = timedelta(minutes=10)  # an acknowledged declare the database will not take yet


def retryable(exc: ChatError) -> bool:
    return exc.error in RETRYABLE or exc.error.startswith("http_5")


def _warning(step: str, exc: BaseException) -> str:
    error = exc.error if isinstance(exc, ChatError) else type(exc).__name__
    what = {
        "invite": "invite you to the channel",
        "topic": "set the channel topic",
        "announce": "announce it in the incidents channel",
        "pin": "pin the incident card",
        "checklist": "post the declare checklist",
        "links": "add the playbook's links or notify everyone the severity names",
    }.get(step, step)
    return f"Could not {what} ({error})."
