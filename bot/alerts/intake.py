"""From a stored alert notification to an incident: route, group, de-duplicate, tell.

A notification is stored before its webhook is answered (`receive`), then processed
(`process`; `process_pending` for any a crash or a failure left, at start and every
RETRY_INTERVAL). Processing decides in one write transaction (see store.alert_rows): the
group's open incident gets the alerts in its timeline; a `declare` route opens the incident,
with `detected_at` the earliest alert's start (its channel and card are made in the
background, so other groups never wait for them); `triage` records an `alert_triage` event
whose `alert-posts` subscriber posts the alert for a person to decide, retried until posted;
`ignore`, or no route, only records it. What changed in an incident's group is an
`alert_changes` event, posted in its channel, coalesced, by `alert-changes`
(bot.alerts.changes).

A notification whose processing fails is tried again with backoff and, after MAX_ATTEMPTS,
parked with its error (`foghorn outbox` shows it): it never holds up the others, only the
later notifications of its own group, until it is parked.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.alerts.payloads import Notification, first_words, parse_alertmanager
from bot.background import Background
from bot.incidents.base import DeclareRequest
from bot.incidents.errors import UserError
from bot.incidents.events import Event, Kind
from bot.incidents.model import Clock, Incident, utcnow
from bot.incidents.service import IncidentService
from bot.outbox import Subscriber
from bot.playbooks import AlertRoute, Playbook, route_for
from bot.store import alert_rows
from bot.store.alert_rows import SyncSession as Session
from bot.store.db import Database

log = logging.getLogger(__name__)

RETRY_INTERVAL = 5.0  # seconds between looks for notifications to try again
MAX_ATTEMPTS = 5
BACKOFF = (2.0, 10.0, 30.0, 60.0)  # seconds before the 2nd, 3rd... try


class AlertChat(Protocol):
    async def triage(self, note: Notification, route: AlertRoute, group_id: int, *,
                     event_id: int, since: datetime | None) -> None: ...


@dataclass
class Outcome:
    kind: str  # declared, attached, triage, ignored, unrouted, duplicate
    note: Notification
    route: AlertRoute | None = None
    incident: Incident | None = None
    group_id: int | None = None
    incident_id: int | None = None
    lines: list[str] = field(default_factory=list)
    all_resolved: bool = False
    # The events recorded (their `.id` once the transaction has committed): triage, changes.
    event: Any = None
    changes: Any = None


def group_hash(source: str, group_key: str) -> str:
    return hashlib.sha256(f"{source}|{group_key}".encode()).hexdigest()


class AlertIntake:
    def __init__(self, db: Database, playbook: Playbook, service: IncidentService,
                 chat: AlertChat, bot_user: Callable[[], Awaitable[str]],
                 background: Background, *, clock: Clock = utcnow,
                 team: Callable[[], str] = lambda: "",
                 retry_interval: float = RETRY_INTERVAL) -> None:
        """`team`: the workspace alert incidents belong to (token mode's, from auth.test;
        "" until Slack has answered, filled in at the next start)."""
        self.db, self.playbook, self.service, self.chat = db, playbook, service, chat
        self.bot_user, self.background, self.clock = bot_user, background, clock
        self.team, self.retry_interval = team, retry_interval
        self._again = False  # more notifications arrived while a pass was running
        self._pass: asyncio.Task[int] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def receive(self, source: str, note: Notification, *, delivery: str | None = None
                      ) -> int | None:
        """Store the notification, in the one shape every source is read into (the webhook
        is answered only after this). `delivery`: the signed request's id; None is returned
        (nothing stored) when that delivery was taken already."""
        async with self.db.write(urgent=True) as s:
            if delivery is not None and not await alert_rows.first_delivery(
                    s, source, delivery, self.clock()):
                return None
            return await alert_rows.store_notification(
                s, source=source, group_hash=group_hash(source, note.group_key),
                status=note.status, payload=note.model_dump(mode="json", by_alias=True),
                at=self.clock())

    def start(self, *, watch: bool = True) -> None:
        """Process what a crash or a failure left, then (`watch`) look again every
        RETRY_INTERVAL for notifications whose next try is due."""
        self.background.spawn(self.process_pending(), "alerts-pending")
        if watch:
            self._watch = self.background.keep(self._watching(), "alerts-watch")

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                async with self.db.read() as s:
                    due = await alert_rows.due(s, self.clock())
                if due:
                    self.background.spawn(self.process_pending(), "alerts-pending")
                self.db.outage.ok()
            except Exception as exc:
                self.db.outage.failed(exc, "alert intake")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None

    async def process_pending(self) -> int:
        """Process every stored notification that is due, oldest first (a group's in the
        order they came). One pass at a time: a call during a pass makes it look again when
        done, instead of starting a second."""
        if self._pass is not None and not self._pass.done():
            self._again = True
            return 0
        self._pass = asyncio.ensure_future(self._passes())
        return await asyncio.shield(self._pass)

    async def _passes(self) -> int:
        done = 0
        while True:
            self._again = False
            async with self.db.read() as s:
                ids = await alert_rows.due(s, self.clock())
            for notification_id in ids:
                try:
                    await self.process(notification_id)
                    done += 1
                except Exception as exc:  # tried again later, or parked: never blocking
                    await self._failed(notification_id, exc)
            if not self._again:
                return done

    async def _failed(self, notification_id: int, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        try:
            async with self.db.write() as s:
                parked = await alert_rows.failed(s, notification_id, reason, self.clock(),
                                                 MAX_ATTEMPTS, BACKOFF)
        except Exception as again:
            log.warning("alert notification %d failed (%s), and recording that failed too "
                        "(%s): it is tried again", notification_id, reason, again)
            return
        if parked:
            log.error("alert notification %d parked after %d attempts: %s",
                      notification_id, MAX_ATTEMPTS, reason)
        else:
            log.warning("alert notification %d not processed yet, tried again later: %s",
                        notification_id, reason)

    async def process(self, notification_id: int) -> Outcome | None:
        by = await self.bot_user()
        outcome = await self.db.write_sync(lambda s: self._decide(s, notification_id, by))
        if outcome is None:
            return None  # processed already (a retry, another replica)
        log.info("alert group %s: %s", outcome.note.group_key[:80], outcome.kind,
                 extra={"incident": outcome.incident and outcome.incident.label})
        if outcome.kind == "declared" and outcome.incident is not None:
            declared = outcome.incident
            self.service.registered(declared)
            # Its channel and card in the background: a slow Slack holds this incident
            # only, never the next group's notifications.
            self.background.spawn(self._complete(declared, outcome), "alert-declare")
            return outcome
        if outcome.incident_id is not None:
            outcome.incident = await self.service.get(outcome.incident_id)
        if outcome.changes is not None:  # coalesced: in the background
            self.service.reactions.soon([outcome.changes.id])
        if outcome.event is not None:
            await self.service.react(outcome.event, quiet=True)
        return outcome

    async def _complete(self, inc: Incident, outcome: Outcome) -> None:
        outcome.incident = (await self.service.complete(inc)).incident
        if outcome.changes is not None:  # its channel exists now
            self.service.reactions.soon([outcome.changes.id])

    # ----- the `alert-posts` subscriber: triage posts -----------------------------------------
    def subscriber(self) -> Subscriber:
        return Subscriber("alert-posts", frozenset({Kind.ALERT_TRIAGE}), self._post_triage)

    async def _post_triage(self, event: Event, attempt: int) -> None:
        group_id = int(event.data["group"])
        async with self.db.read() as s:
            group = await alert_rows.group_for_action(s, group_id)
            latest = await alert_rows.notification_for_post(
                s, int(event.data["notification"]))
        if group is None or latest is None or group.incident_id is not None or (
                not group.is_open):
            return  # decided meanwhile: declared or dismissed
        note = parse_alertmanager(latest.payload)
        route = route_for(self.playbook.alert_routes, note.labels)
        if route is None:
            return  # the playbook changed since
        await self.chat.triage(note, route, group_id, event_id=event.id,
                               since=event.occurred_at if attempt > 1 else None)

    def _decide(self, s: Session, notification_id: int, by: str) -> Outcome | None:
        row = alert_rows.notification(s, notification_id)
        if row is None or row.processed_at is not None:
            return None
        alert_rows.lock_group(s, row.group_hash)
        alert_rows.reread(s, row)
        if row.processed_at is not None:
            return None
        note = parse_alertmanager(row.payload)
        now = self.clock()
        route = route_for(self.playbook.alert_routes, note.labels)
        group = alert_rows.open_group(s, row.source, row.group_hash)
        known = dict(group.alerts) if group is not None else {}
        lines, merged = _changes(known, note)
        outcome = Outcome("unrouted" if route is None else route.action, note, route,
                          all_resolved=bool(merged) and all(
                              v == "resolved" for v in merged.values()))
        if group is not None and group.incident_id is not None:
            outcome.kind = "attached"
        elif route is None or route.action == "ignore" or (
                note.status == "resolved" and group is None):
            outcome.kind = "ignored" if route is not None else "unrouted"
        elif route.action == "declare":
            req = DeclareRequest(title=note.title, by=by, severity=route.severity_for(
                note.labels), description=note.annotation("description"), type=route.type,
                team_id=self.team())
            declaration = self.service.declaration(
                req, now, detected_at=note.started_at, key=f"alert|{row.group_hash[:58]}")
            stored = self.service.store_declaration(s, declaration)
            if isinstance(stored, int):  # the same group moments ago: attach to it
                outcome.kind = "duplicate"
                group = group or alert_rows.new_group(
                    s, source=row.source, group_hash=row.group_hash,
                    group_key=note.group_key, at=now)
                group.incident_id = stored
            else:
                outcome.kind, outcome.incident = "declared", stored
                group = group or alert_rows.new_group(
                    s, source=row.source, group_hash=row.group_hash,
                    group_key=note.group_key, at=now)
                group.incident_id = stored.id
        elif group is None:  # triage, new group: posted (and retried) by `alert-posts`
            group = alert_rows.new_group(s, source=row.source, group_hash=row.group_hash,
                                         group_key=note.group_key, at=now)
            outcome.event = self.service.events.record(
                s, None, Kind.ALERT_TRIAGE, {"group": group.id, "notification": row.id}, now,
                stream=f"alert-group:{group.id}")
        else:
            outcome.kind = "triaged"  # already posted for triage; a person decides
        if group is not None:
            group.alerts = merged
            outcome.group_id = group.id
            if group.incident_id is not None and lines:  # posted by `alert-changes`
                outcome.changes = self.service.events.record(
                    s, group.incident_id, Kind.ALERT_CHANGES,
                    {"lines": lines, "auto": bool(route and route.auto_resolve)}, now)
            if group.incident_id is not None:
                alert_rows.add_alert_entry(
                    s, group.incident_id, now, None, f"{note.status}: {note.title}",
                    {"notification": row.id, "status": note.status, "lines": lines,
                     "links": [list(link) for link in note.links]})
                row.incident_id = outcome.incident_id = group.incident_id
        row.processed_at, row.outcome = now, outcome.kind
        outcome.lines = lines
        return outcome

    # ----- triage: a person decides ---------------------------------------------------------
    async def declare_triaged(self, group_id: int, by: str) -> Incident:
        """"Declare incident" on a triage post: the group's incident, declared by the person
        who clicked (once: a second click, or a click on another copy, gets the same one)."""
        now = self.clock()
        decided = await self.db.write_sync(lambda s: self._declare_group(s, group_id, by, now))
        if isinstance(decided, int):
            found = await self.service.get(decided)
            assert found is not None
            return found
        self.service.registered(decided)
        return (await self.service.complete(decided)).incident

    def _declare_group(self, s: Session, group_id: int, by: str, now: datetime
                       ) -> Incident | int:
        group = alert_rows.group(s, group_id)
        if group is None:
            raise UserError("That alert is no longer stored.")
        alert_rows.lock_group(s, group.group_hash)
        alert_rows.reread(s, group)
        if group.incident_id is not None:
            return group.incident_id
        if not group.is_open:
            raise UserError("That alert was dismissed.")
        latest = alert_rows.latest_notification(s, group.source, group.group_hash)
        assert latest is not None
        note = parse_alertmanager(latest.payload)
        route = route_for(self.playbook.alert_routes, note.labels)
        req = DeclareRequest(title=note.title, by=by,
                             severity=route.severity_for(note.labels) if route else None,
                             description=note.annotation("description"),
                             type=route.type if route else None, team_id=self.team())
        stored = self.service.store_declaration(s, self.service.declaration(
            req, now, detected_at=note.started_at, key=f"alert|{group.group_hash[:58]}"))
        incident_id = stored if isinstance(stored, int) else stored.id
        group.incident_id = incident_id
        alert_rows.add_alert_entry(s, incident_id, now, by,
                                   f"declared from the alert: {note.title}",
                                   {"notification": latest.id, "status": note.status,
                                    "links": [list(link) for link in note.links]})
        return stored

    async def dismiss(self, group_id: int, by: str) -> None:
        """"Dismiss" on a triage post: the group closes (its next notification is new)."""
        async with self.db.write() as s:
            group = await alert_rows.group_for_action(s, group_id)
            if group is None or not group.is_open:
                raise UserError("That alert was already dismissed.")
            if group.incident_id is not None:
                raise UserError("An incident was already declared from that alert.")
            group.is_open = False
        log.info("alert group %d dismissed by %s", group_id, by)


def _changes(known: dict[str, str], note: Notification) -> tuple[list[str], dict[str, str]]:
    """What this notification changes in the group: new alerts firing, alerts resolved (as
    lines to show), and the group's alert states after it."""
    merged = dict(known)
    lines = []
    for alert in note.alerts:
        key = alert.key()
        if merged.get(key) != alert.status:
            name = first_words(alert.annotations.get("summary"), alert.labels.get("alertname"),
                               "alert")
            where = alert.labels.get("instance") or alert.labels.get("service") or ""
            lines.append(f"{'firing' if alert.status == 'firing' else 'resolved'}: {name}"
                         + (f" ({where})" if where else ""))
            merged[key] = alert.status
    return lines, merged
