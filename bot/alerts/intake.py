"""From a stored alert notification to an incident: route, group, de-duplicate, tell.

A notification is stored before its webhook is answered (`receive`), then processed
(`process`, and at start-up `process_pending` for any a crash left). Processing decides in
one write transaction (see store.alert_rows): the group's open incident gets the alerts in
its timeline; a `declare` route opens the incident, with `detected_at` the earliest alert's
start; `triage` posts the alert for a person to decide; `ignore`, or no route, only records
it. Then the chat side is told: what changed in the group is posted in the incident channel
once per COALESCE window, not once per notification.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from bot.alerts.payloads import Notification, parse_alertmanager
from bot.incidents.base import DeclareRequest
from bot.incidents.errors import UserError
from bot.incidents.model import Clock, Incident, utcnow
from bot.incidents.service import IncidentService
from bot.playbooks import AlertRoute, Playbook, route_for
from bot.store import alert_rows, repo
from bot.store.db import Database
from bot.store.tables import AlertGroupRow, TimelineEntryRow

log = logging.getLogger(__name__)

COALESCE = 2.0  # seconds: changes to one group within this are posted as one message


class AlertChat(Protocol):
    async def alert_changes(self, inc: Incident, lines: list[str], all_resolved: bool,
                            auto_resolve: bool) -> None: ...
    async def triage(self, note: Notification, route: AlertRoute, group_id: int) -> None: ...


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


def group_hash(source: str, group_key: str) -> str:
    return hashlib.sha256(f"{source}|{group_key}".encode()).hexdigest()


class AlertIntake:
    def __init__(self, db: Database, playbook: Playbook, service: IncidentService,
                 chat: AlertChat, bot_user: Callable[[], Awaitable[str]], *,
                 clock: Clock = utcnow, team_id: str = "") -> None:
        self.db, self.playbook, self.service, self.chat = db, playbook, service, chat
        self.bot_user, self.clock, self.team_id = bot_user, clock, team_id
        self._pending: dict[int, asyncio.Task[None]] = {}  # coalesced posts, per incident
        self._lines: dict[int, list[str]] = {}
        self._again = False  # more notifications arrived while a pass was running
        self._pass: asyncio.Task[int] | None = None

    async def receive(self, source: str, note: Notification) -> int:
        """Store the notification, in the one shape every source is read into (the webhook
        is answered only after this)."""
        async with self.db.write(urgent=True) as s:
            return await alert_rows.store_notification(
                s, source=source, group_hash=group_hash(source, note.group_key),
                status=note.status, payload=note.model_dump(mode="json", by_alias=True),
                at=self.clock())

    async def process_pending(self) -> int:
        """Process every stored notification not yet processed, oldest first (so a group's
        notifications are taken in the order they came). One pass at a time: a call during a
        pass makes it look again when done, instead of starting a second."""
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
                ids = await alert_rows.unprocessed(s)
            for notification_id in ids:
                try:
                    await self.process(notification_id)
                    done += 1
                except Exception as exc:  # kept, tried again on the next pass or start
                    log.warning("alert notification %d not processed yet: %s",
                                notification_id, exc)
                    return done
            if not self._again:
                return done

    async def process(self, notification_id: int) -> Outcome | None:
        by = await self.bot_user()
        outcome = await self.db.write_sync(lambda s: self._decide(s, notification_id, by))
        if outcome is None:
            return None  # processed already (a retry, another replica)
        log.info("alert group %s: %s", outcome.note.group_key[:80], outcome.kind,
                 extra={"incident": outcome.incident and outcome.incident.label})
        if outcome.kind == "declared" and outcome.incident is not None:
            self.service.registered(outcome.incident)
            result = await self.service.complete(outcome.incident)
            outcome.incident = result.incident
        elif outcome.incident_id is not None:
            outcome.incident = await self.service.get(outcome.incident_id)
        if outcome.incident is not None and outcome.lines:
            self._coalesce(outcome)
        elif outcome.kind == "triage" and outcome.route is not None:
            await self.chat.triage(outcome.note, outcome.route, outcome.group_id or 0)
        return outcome

    def _decide(self, s: Session, notification_id: int, by: str) -> Outcome | None:
        row = alert_rows.notification(s, notification_id)
        if row is None or row.processed_at is not None:
            return None
        alert_rows.lock_group(s, row.group_hash)
        s.refresh(row)
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
                team_id=self.team_id)
            declaration = self.service.declaration(
                req, now, detected_at=note.started_at, key=f"alert|{row.group_hash[:58]}")
            stored = repo.register_incident(s, **declaration)
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
        elif group is None:  # triage, new group
            group = alert_rows.new_group(s, source=row.source, group_hash=row.group_hash,
                                         group_key=note.group_key, at=now)
        else:
            outcome.kind = "triaged"  # already posted for triage; a person decides
        if group is not None:
            group.alerts = merged
            outcome.group_id = group.id
            if group.incident_id is not None:
                s.add(TimelineEntryRow(
                    incident_id=group.incident_id, kind="alert", occurred_at=now, actor=None,
                    text=f"{note.status}: {note.title}",
                    data={"notification": row.id, "status": note.status, "lines": lines,
                          "links": [list(link) for link in note.links]}))
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
        group = s.get(AlertGroupRow, group_id)
        if group is None:
            raise UserError("That alert is no longer stored.")
        alert_rows.lock_group(s, group.group_hash)
        s.refresh(group)
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
                             type=route.type if route else None, team_id=self.team_id)
        stored = repo.register_incident(s, **self.service.declaration(
            req, now, detected_at=note.started_at, key=f"alert|{group.group_hash[:58]}"))
        incident_id = stored if isinstance(stored, int) else stored.id
        group.incident_id = incident_id
        s.add(TimelineEntryRow(incident_id=incident_id, kind="alert", occurred_at=now,
                               actor=by, text=f"declared from the alert: {note.title}",
                               data={"notification": latest.id, "status": note.status,
                                     "links": [list(link) for link in note.links]}))
        return stored

    async def dismiss(self, group_id: int, by: str) -> None:
        """"Dismiss" on a triage post: the group closes (its next notification is new)."""
        async with self.db.write() as s:
            group = await s.get(AlertGroupRow, group_id)
            if group is None or not group.is_open:
                raise UserError("That alert was already dismissed.")
            if group.incident_id is not None:
                raise UserError("An incident was already declared from that alert.")
            group.is_open = False
        log.info("alert group %d dismissed by %s", group_id, by)

    # ----- telling the channel, coalesced --------------------------------------------------
    def _coalesce(self, outcome: Outcome) -> None:
        inc = outcome.incident
        assert inc is not None
        self._lines.setdefault(inc.id, []).extend(outcome.lines)
        if inc.id in self._pending and not self._pending[inc.id].done():
            return
        route = outcome.route

        async def post() -> None:
            # Until nothing is left: changes that came while a post was being made are
            # posted next, not left behind.
            while self._lines.get(inc.id):
                await asyncio.sleep(COALESCE)
                lines = self._lines.pop(inc.id, [])
                current = await self.service.get(inc.id) or inc
                async with self.db.read() as s:
                    group = await alert_rows.group_of(s, inc.id)
                states = dict(group.alerts) if group is not None else {}
                resolved = bool(states) and all(v == "resolved" for v in states.values())
                auto = bool(route and route.auto_resolve)
                await self.chat.alert_changes(current, lines, resolved, auto)
                if resolved and auto and not current.is_resolved and current.channel_id:
                    await self.service.resolve(current.channel_id, "Every alert of the group "
                                               "resolved (the route resolves on its own)",
                                               await self.bot_user(), confirmed=True)

        task = asyncio.ensure_future(post())
        self._pending[inc.id] = task
        task.add_done_callback(lambda done: self._posted(inc.id, done))

    def _posted(self, incident_id: int, task: asyncio.Task[None]) -> None:
        if self._pending.get(incident_id) is task:
            del self._pending[incident_id]
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not post the alert changes of incident %d: %s", incident_id,
                        task.exception())

    async def drain(self) -> None:
        """Wait for the coalesced posts under way (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending.values()), return_exceptions=True)

    async def close(self, within: float) -> None:
        """At shutdown: the posts under way get `within` seconds, then stop (what they
        would have said is in the incidents' timelines)."""
        try:
            await asyncio.wait_for(self.drain(), within)
        except TimeoutError:
            tasks = list(self._pending.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _changes(known: dict[str, str], note: Notification) -> tuple[list[str], dict[str, str]]:
    """What this notification changes in the group: new alerts firing, alerts resolved (as
    lines to show), and the group's alert states after it."""
    merged = dict(known)
    lines = []
    for alert in note.alerts:
        key = alert.key()
        if merged.get(key) != alert.status:
            name = alert.annotations.get("summary") or alert.labels.get("alertname", "alert")
            where = alert.labels.get("instance") or alert.labels.get("service") or ""
            lines.append(f"{'firing' if alert.status == 'firing' else 'resolved'}: {name}"
                         + (f" ({where})" if where else ""))
            merged[key] = alert.status
    return lines, merged
