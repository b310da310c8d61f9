"""The incident service: declare, assign roles, change severity, post updates, resolve.

Plain code with no Slack types: it decides, writes the database (each change and its timeline
entry in one transaction) and then tells the chat side what happened through `ChatPort`.
Network calls are never made while a write transaction is open.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.incidents import naming, stats
from bot.incidents import reminders as plan
from bot.incidents.errors import ChannelNameTaken, ChatError, NeedsConfirmation, UserError
from bot.incidents.model import (
    RESOLVED,
    TEXT_LIMIT,
    TITLE_LIMIT,
    Clock,
    Incident,
    Reminder,
    TimelineEntry,
    clip,
    utcnow,
)
from bot.incidents.postmortem import PostmortemWriter
from bot.incidents.timeline import Timeline
from bot.logs import bind
from bot.playbooks import Checklist, EscalationStep, Playbook, normalize_key
from bot.store import confirmations, reminder_rows, repo
from bot.store.batch import GroupWriter
from bot.store.db import Database

log = logging.getLogger(__name__)

# The same person declaring the same title within this window gets the first incident back.
DUPLICATE_WINDOW = timedelta(seconds=120)
MAX_NAME_ATTEMPTS = 50
# How far before the declaration an adopted channel may have been created (clock skew).
ADOPT_MARGIN = timedelta(seconds=5)
ANYONE = object()  # assign_role: no expectation about the current holder
NOT_HERE = ("That button or form belongs to another channel's incident, so nothing was "
            "changed. Use the incident's own channel.")
# A second click of the same Snooze button (a minute later, say) changes nothing.
SNOOZE_SLACK = timedelta(minutes=5)


class ChatPort(Protocol):
    """What the service needs from the chat platform (implemented by slack.publisher).
    Every method takes the incident first: it says which workspace the call is for."""

    async def create_channel(self, inc: Incident, name: str) -> str: ...
    async def own_channel(self, inc: Incident, name: str, since: datetime) -> str | None: ...
    async def find_posted(self, inc: Incident, what: str) -> str | None: ...
    async def links_and_notices(self, inc: Incident, *, resumed: bool) -> None: ...
    async def post_card(self, inc: Incident) -> str: ...
    async def pin_card(self, inc: Incident) -> None: ...
    async def invite(self, inc: Incident, users: list[str]) -> None: ...
    async def is_member(self, inc: Incident, user: str) -> bool: ...
    async def set_topic(self, inc: Incident) -> None: ...
    async def refresh_card(self, inc: Incident) -> None: ...
    async def announce_declared(self, inc: Incident) -> str: ...
    async def role_changed(
        self, inc: Incident, role_id: str, user: str, previous: str | None, by: str
    ) -> None: ...
    async def severity_changed(self, inc: Incident, old: str, by: str) -> None: ...
    async def status_updated(self, inc: Incident, message: str, by: str) -> None: ...
    async def resolved(self, inc: Incident) -> None: ...
    async def note_added(self, inc: Incident, user: str, text: str) -> None: ...
    async def display_names(self, inc: Incident, users: set[str]) -> dict[str, str]: ...
    async def upload_postmortem(self, inc: Incident, filename: str, content: str) -> None: ...
    async def remind_update(self, inc: Incident, reminder_id: int, since: timedelta) -> None: ...
    async def nudge_commander(self, inc: Incident, reminder_id: int, waited: timedelta
                              ) -> None: ...
    async def escalate(self, inc: Incident, reminder_id: int, step: EscalationStep) -> None: ...
    async def remind_postmortem(self, inc: Incident, reminder_id: int) -> None: ...
    async def reminder_already_posted(self, inc: Incident, reminder_id: int,
                                      since: datetime) -> bool: ...
    async def snoozed(self, inc: Incident, by: str, until: datetime) -> None: ...
    async def post_checklist(self, inc: Incident, checklist: Checklist, ticked: set[int]
                             ) -> str: ...
    async def refresh_checklist(self, inc: Incident, checklist: Checklist) -> None: ...


@dataclass(frozen=True)
class DeclareRequest:
    title: str
    by: str
    severity: str | None = None
    description: str = ""
    is_private: bool = False
    origin_channel: str | None = None
    team_id: str = ""


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


class IncidentService:
    def __init__(
        self,
        db: Database,
        playbook: Playbook,
        chat: ChatPort,
        *,
        tz: ZoneInfo,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.playbook = playbook
        self.chat = chat
        self.tz = tz
        self.clock = clock
        self.timeline = Timeline(db, clock=clock)
        self.postmortems = PostmortemWriter(playbook, tz)
        # Declares arriving together are stored in one transaction (Slack waits for each).
        self._registrations: GroupWriter[dict[str, Any], int | Incident] = GroupWriter(
            db, lambda s, items: [repo.register_incident(s, **i) for i in items],
            name="declare")
        # Called after reminder rows change, so the dispatcher can wake in time.
        self.reminders_changed: Callable[[], None] = lambda: None
        # Called once per newly declared incident (for the metrics).
        self.declared: Callable[[Incident], None] = lambda inc: None
        # Called after an incident changed (declared, roles, severity, status, resolved),
        # with anyone else concerned (a role's previous holder), for the App Home.
        self.changed: Callable[[Incident, tuple[str | None, ...]], None] = lambda inc, also: None

    # ----- reading ------------------------------------------------------------------------
    async def get(self, incident_id: int) -> Incident | None:
        async with self.db.read() as s:
            inc = await repo.get_incident(s, incident_id)
        bind(incident=inc and inc.label)
        return inc

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
                        incident_id: int | None = None) -> Incident:
        """The incident a click or a form acts on, provided it was made where that incident
        lives: in its own channel (a button) or naming it (a form's metadata), by someone
        who may see it (a member of a private incident's channel). Anything else is refused
        alike, so a refusal never tells whether a private incident exists."""
        async with self.db.read() as s:
            inc = await repo.get_by_channel(s, channel_id) if channel_id else None
        if inc is None or (incident_id is not None and inc.id != incident_id) or (
                inc.is_private and not await self.chat.is_member(inc, user)):
            log.info("refused an action made outside its incident's channel")
            raise UserError(NOT_HERE)
        bind(incident=inc.label)
        return inc

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

    # ----- declaring ----------------------------------------------------------------------
    async def declare(self, req: DeclareRequest) -> DeclareResult:
        """`register` then `complete` in one go."""
        result = await self.register(req)
        return result if result.duplicate else await self.complete(result.incident)

    async def register(self, req: DeclareRequest) -> DeclareResult:
        """Store the incident (before Slack is answered: an acknowledged declare survives a
        crash). Idempotent per (person, title) for DUPLICATE_WINDOW: a double submit gets the
        first incident back, marked duplicate."""
        title = clip(req.title.strip(), TITLE_LIMIT)  # the edge already told the person
        if not title:
            raise UserError("An incident needs a title, e.g. `/incident declare sev2 Checkout "
                            "API returning 500s`.")
        severity = self.playbook.severity(req.severity or self.playbook.default_severity.id)
        now = self.clock()
        key = dedup_key(req.team_id, req.by, title)
        fields = {"team_id": req.team_id, "title": title,
                  "description": clip(req.description.strip(), TEXT_LIMIT),
                  "severity": severity.id,
                  "status": self.playbook.initial_status.id, "is_private": req.is_private,
                  "setup_done": False, "declared_by": req.by, "declared_at": now,
                  "last_update_at": now, "origin_channel_id": req.origin_channel,
                  "dedup_key": key}
        declared = {"kind": "declared", "occurred_at": now, "actor": req.by, "text": title,
                    "data": {"severity": severity.id, "private": req.is_private}}
        reminders = [(p.kind, p.due_at, p.step) for p in plan.on_declare(severity, now)]
        stored = await self._registrations.submit(
            {"since": now - DUPLICATE_WINDOW, "fields": fields, "declared": declared,
             "reminders": reminders})
        if isinstance(stored, int):  # declared moments ago by the same person
            found = await self.get(stored)
            assert found is not None
            return DeclareResult(found, duplicate=True)
        self.reminders_changed()
        self.declared(stored)
        bind(incident=stored.label)
        return DeclareResult(stored)

    async def register_until_stored(self, req: DeclareRequest) -> DeclareResult:
        """`register`, tried again while the database refuses (locked past its busy timeout,
        a failover, a full disk) for up to STORE_FOR: the caller has acknowledged the
        declare, so giving up at the first error would lose it."""
        delay, waited = 0.5, 0.0
        while True:
            try:
                return await self.register(req)
            except UserError:
                raise
            except Exception as exc:
                if waited >= STORE_FOR.total_seconds():
                    raise
                log.warning("storing a declare failed (%s); trying again in %.1f s",
                            type(exc).__name__, delay)
                await asyncio.sleep(delay)
                waited, delay = waited + delay, min(delay * 2, 10.0)

    async def complete(self, inc: Incident, *,
                       queued: Callable[[Incident, str], Awaitable[None]] | None = None
                       ) -> DeclareResult:
        """Create the channel, card, pin, topic and announcement of a registered incident.
        Each Slack result is stored as soon as it exists, so a retry (or `resume_unfinished`
        after a crash) never repeats any of it. An acknowledged declare is never undone:
        while Slack rate-limits or fails, it waits and tries again (telling `queued` once);
        a refusal that waiting cannot cure leaves it stored, for the next start to finish."""
        delay, waited = 1.0, 0.0
        while True:
            try:
                return await self._complete_setup(inc)
            except ChatError as exc:
                if not retryable(exc) or waited >= RETRY_FOR.total_seconds():
                    raise self._unfinished(inc, exc) from exc
                log.info("declare %s waits %.0f s: %s", inc.label, delay, exc)
                if queued is not None and waited == 0:
                    await queued(inc, exc.error)
                await asyncio.sleep(delay)
                waited, delay = waited + delay, min(delay * 2, 30.0)
                inc = replace(await self.get(inc.id) or inc, setup_interrupted=True)

    def _unfinished(self, inc: Incident, exc: ChatError) -> UserError:
        what = ("create its channel" if inc.channel_id is None
                else f"post its card in <#{inc.channel_id}>")
        return UserError(
            f"{inc.label} is saved, but Slack would not {what} ({exc.error}). Foghorn "
            "finishes it when it next starts; if this keeps happening, ask a Slack admin "
            "whether the app may create channels and post in them.")

    async def resume_unfinished(self) -> list[DeclareResult]:
        """Finish every declare that a crash or a Slack failure left half done."""
        async with self.db.read() as s:
            pending = await repo.list_unfinished_setup(s)
        results = []
        for inc in pending:
            try:
                results.append(await self._complete_setup(replace(inc, setup_interrupted=True)))
            except (UserError, ChatError) as exc:
                log.warning("could not finish declaring %s: %s", inc.label, exc)
        return results

    async def _create_channel(self, inc: Incident) -> Incident:
        """Create the incident's channel, taking the next numbered name while one is taken.
        Only a resumed declare adopts an existing channel of ours by that name (the one it
        made before a crash); a live declare never takes another's, so people declaring the
        same title at once each get their own channel."""
        day = inc.declared_at.astimezone(self.tz).date()
        for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
            name = naming.channel_name(inc.title, day, f"inc-{inc.id}", attempt)
            try:
                channel_id: str | None = await self.chat.create_channel(inc, name)
            except ChannelNameTaken:
                channel_id = await self._adopt(inc, name) if inc.setup_interrupted else None
            if channel_id is not None and await self._claim_channel(inc, channel_id, name):
                return replace(inc, channel_id=channel_id, channel_name=name)
        raise UserError(f"Every channel name for {inc.label}'s title is taken; it is saved "
                        "without a channel. Declare it again with a more specific title.")

    async def _claim_channel(self, inc: Incident, channel_id: str, name: str) -> bool:
        """Store the channel as this incident's; False if another incident holds it (the
        unique channel_id settles a race between two adopters)."""
        async with self.db.write() as s:
            claimed = await repo.claim_channel(s, inc.id, channel_id, name)
        if not claimed:
            log.info("%s: a channel by that name belongs to another incident", inc.label)
        return claimed

    async def _post_once(self, inc: Incident, what: str,
                         post: Callable[[Incident], Awaitable[str]]) -> str:
        """Post the card or the announcement, unless a crash interrupted this declare after
        it was posted but before its ts was stored: then find it and use it."""
        if not inc.setup_interrupted:
            return await post(inc)
        found = await self.chat.find_posted(inc, what)
        return found if found is not None else await post(inc)

    async def _adopt(self, inc: Incident, name: str) -> str | None:
        """A crash between creating the channel and storing its ID leaves a channel of ours
        behind: use it rather than make a second one for the same declare."""
        channel_id = await self.chat.own_channel(inc, name, inc.declared_at - ADOPT_MARGIN)
        if channel_id is None:
            return None
        async with self.db.read() as s:
            if await repo.get_by_channel(s, channel_id) is not None:
                return None  # another incident's channel that happens to share the name
        log.info("%s: adopting its channel, created before an interruption", inc.label)
        return channel_id

    async def _complete_setup(self, inc: Incident) -> DeclareResult:
        if inc.channel_id is None:
            inc = await self._create_channel(inc)
        # Everything below needs only the channel: run it side by side so the card is
        # visible after two sequential Slack calls (create, post).
        jobs: dict[str, Any] = {
            "invite": self.chat.invite(inc, [inc.declared_by]),
            "topic": self.chat.set_topic(inc),
        }
        if inc.card_ts is None:
            jobs["card"] = self._post_once(inc, "card", self.chat.post_card)
        if not inc.is_private and inc.announcement_ts is None:
            jobs["announce"] = self._post_once(inc, "announcement", self.chat.announce_declared)
        done = dict(zip(jobs, await asyncio.gather(*jobs.values(), return_exceptions=True),
                        strict=True))
        warnings = []
        for step, result in done.items():
            if isinstance(result, BaseException) and step != "card":
                log.warning("declare %s: %s failed: %s", inc.label, step, result)
                warnings.append(_warning(step, result))
        stored: dict[str, Any] = {}
        if isinstance(done.get("card"), str):
            stored["card_ts"] = done["card"]
        if isinstance(done.get("announce"), str):
            stored["announcement_ts"] = done["announce"]
        if stored:
            async with self.db.write() as s:
                await repo.update_incident(s, inc.id, **stored)
            inc = replace(inc, **stored)
        card_error = done.get("card")
        if isinstance(card_error, BaseException):
            raise card_error  # a ChatError: complete() waits and retries, or reports it
        try:
            await self.chat.pin_card(inc)
        except ChatError as exc:
            warnings.append(_warning("pin", exc))
        try:
            await self.post_checklists(inc, "declare")
        except ChatError as exc:
            warnings.append(_warning("checklist", exc))
        try:
            await self.chat.links_and_notices(inc, resumed=inc.setup_interrupted)
        except ChatError as exc:
            warnings.append(_warning("links", exc))
        async with self.db.write() as s:
            await repo.update_incident(s, inc.id, setup_done=True)
        inc = replace(inc, setup_done=True)
        self.changed(inc, ())
        return DeclareResult(inc, warnings=tuple(warnings))

    # ----- changes ------------------------------------------------------------------------
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

    async def assign_role(self, incident_id: int, role_id: str, user: str, by: str, *,
                          seen: str | object | None = ANYONE) -> Incident:
        """Give the role to `user`. `seen`: who held it on the card where the click was made
        (None: nobody); if someone else took it meanwhile, the click was a race, not a
        handover, and the person is told who holds it now."""
        role = self.playbook.role(role_id)
        if role is None:
            raise UserError(f"Unknown role `{role_id}`. Roles: {self.role_names()}.")
        now = self.clock()
        async with self.db.write() as s:
            inc = self.require_open(await repo.lock_incident(s, incident_id))
            if user != by:  # taking a role yourself is always allowed
                self._require_allowed(inc, "role", by)
            holder = inc.roles.get(role.id)
            if holder == user:
                raise UserError(f"<@{user}> is already the {role.name} for {inc.label}.")
            if seen is not ANYONE and holder != seen:
                raise UserError(f"<@{holder}> took the {role.name} role for {inc.label} a "
                                "moment ago. To take it over, click again or use "
                                f"`/incident role {role.id} me`.")
            previous = await repo.set_role(s, inc.id, role.id, user, by, now)
            if role.id == "ic":
                await reminder_rows.cancel_reminders(s, inc.id, (plan.IC_NUDGE,))
            await repo.add_entry(
                s, inc.id, "role_assigned", now, by, f"{role.name}: <@{user}>",
                {"role": role.id, "user": user, "previous": previous},
            )
            inc = replace(inc, roles={**inc.roles, role.id: user})
        self.changed(inc, (previous,))
        await self.chat.role_changed(inc, role.id, user, previous, by)
        return inc

    async def change_severity(self, channel_id: str, severity_text: str, by: str) -> Incident:
        severity = self.playbook.find_severity(severity_text)
        if severity is None:
            raise UserError(f"Unknown severity `{severity_text}`. Use one of: "
                            f"{self.severity_names()}.")
        inc = self.require_open(await self.in_channel(channel_id, "severity"))
        self._require_allowed(inc, "severity", by)
        if inc.severity == severity.id:
            raise UserError(f"{inc.label} is already {severity.id}.")
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            await repo.update_incident(s, inc.id, severity=severity.id)
            await repo.add_entry(s, inc.id, "severity_changed", now, by,
                                 f"{current.severity} → {severity.id}",
                                 {"from": current.severity, "to": severity.id})
            await reminder_rows.cancel_reminders(s, inc.id, (plan.UPDATE, plan.IC_NUDGE,
                                                             plan.ESCALATION))
            for p in plan.on_severity_change(severity, current.declared_at,
                                             current.last_update_at, now,
                                             has_commander=current.commander is not None):
                await reminder_rows.add_reminder(s, inc.id, p.kind, p.due_at, p.step)
        self.reminders_changed()
        updated = replace(current, severity=severity.id)
        self.changed(updated, ())
        await self.chat.severity_changed(updated, current.severity, by)
        return updated

    async def post_update(self, channel_id: str, status_text: str, message: str, by: str
                          ) -> Incident:
        status = self.playbook.find_status(status_text)
        if status is None or status.id == RESOLVED:
            hint = " To resolve, use `/incident resolve [summary]`." if status else ""
            raise UserError(f"Unknown status `{status_text}`. Use one of: "
                            f"{self.status_names()}.{hint}")
        message = clip(message.strip(), TEXT_LIMIT)
        if not message:
            raise UserError("Add what you know, e.g. `/incident update identified Bad deploy, "
                            "rolling back`.")
        inc = self.require_open(await self.in_channel(channel_id, "update"))
        self._require_allowed(inc, "update", by)
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            await repo.update_incident(s, inc.id, status=status.id, last_update_at=now)
            await repo.add_entry(s, inc.id, "status_update", now, by, message,
                                 {"status": status.id, "previous_status": current.status})
            due = plan.next_update(self.playbook.severity(current.severity), now, now)
            if due is None:
                await reminder_rows.cancel_reminders(s, inc.id, (plan.UPDATE,))
            else:
                await reminder_rows.set_reminder(s, inc.id, plan.UPDATE, due)
        self.reminders_changed()
        updated = replace(current, status=status.id, last_update_at=now)
        self.changed(updated, ())
        await self.chat.status_updated(updated, message, by)
        if status.id != current.status:
            await self.post_checklists(updated, status.id)
        return updated

    async def resolve(self, channel_id: str, summary: str, by: str, *,
                      confirmed: bool = False) -> Incident:
        inc = await self.in_channel(channel_id, "resolve")
        if not confirmed and not inc.is_resolved:
            self._require_allowed(inc, "resolve", by)
            open_items = await self._open_before_resolve(inc)
            if open_items:
                async with self.db.write() as s:
                    asked = await confirmations.ask(s, inc.id, "resolve", by,
                                                    {"summary": summary}, self.clock())
                raise NeedsConfirmation(inc.id, open_items, asked)
        now = self.clock()
        async with self.db.write() as s:
            current = self.require_open(await repo.lock_incident(s, inc.id))
            self._require_allowed(current, "resolve", by)
            await confirmations.forget(s, inc.id)
            summary = clip(summary.strip(), TEXT_LIMIT)
            await repo.update_incident(s, inc.id, status=RESOLVED, resolved_at=now,
                                       resolved_by=by, summary=summary or None,
                                       last_update_at=now)
            await repo.add_entry(s, inc.id, "resolved", now, by, summary,
                                 {"previous_status": current.status})
            await reminder_rows.cancel_reminders(s, inc.id)
            for p in plan.on_resolve(self.playbook.severity(current.severity), now):
                await reminder_rows.add_reminder(s, inc.id, p.kind, p.due_at, p.step)
        self.reminders_changed()
        updated = replace(current, status=RESOLVED, resolved_at=now, resolved_by=by,
                          summary=summary or None, last_update_at=now)
        self.changed(updated, ())
        await self.chat.resolved(updated)
        await self.post_checklists(updated, RESOLVED)
        return updated

    async def resolve_confirmed(self, channel_id: str, confirmation_id: int, by: str
                                ) -> Incident:
        """"Resolve anyway" clicked: resolve with the summary that was given when asked."""
        inc = await self.acting_in(channel_id, by)
        async with self.db.write() as s:
            asked = await confirmations.take(s, confirmation_id, incident_id=inc.id,
                                             kind="resolve", asked_by=by)
        if asked is None:
            self.require_open(inc)  # resolved meanwhile: say so
            raise UserError("That question has expired, or was asked of someone else. Run "
                            "`/incident resolve` again.")
        return await self.resolve(channel_id, str(asked.payload.get("summary", "")), by,
                                  confirmed=True)

    # ----- checklists ---------------------------------------------------------------------
    async def checklist_state(self, incident_id: int) -> dict[str, set[int]]:
        """Ticked items of every checklist posted for the incident."""
        async with self.db.read() as s:
            return {r.checklist_id: set(r.ticked)
                    for r in await repo.checklist_posts(s, incident_id) if r.message_ts}

    async def _open_before_resolve(self, inc: Incident) -> list[str]:
        state = await self.checklist_state(inc.id)
        return [f"{c.title}: {item.text}" for c in self.playbook.checklists
                if c.before_resolve and c.id in state
                for i, item in enumerate(c.items) if i not in state[c.id]]

    async def post_checklists(self, inc: Incident, when: str) -> None:
        """Post the playbook's checklists for this moment (each once per incident)."""
        for checklist in self.playbook.checklists_for(when, inc.severity):
            async with self.db.read() as s:
                posted = await repo.checklist_post(s, inc.id, checklist.id)
            if posted is None or posted.message_ts is None:
                await self._post_checklist(inc, checklist)

    async def _post_checklist(self, inc: Incident, checklist: Checklist) -> None:
        async with self.db.write() as s:
            ticked = set((await repo.claim_checklist_post(s, inc.id, checklist.id)).ticked)
        ts = await self.chat.post_checklist(inc, checklist, ticked)
        async with self.db.write() as s:
            row = await repo.claim_checklist_post(s, inc.id, checklist.id)
            row.message_ts = ts

    async def checklist_on_demand(self, channel_id: str, checklist_id: str) -> None:
        """`/incident checklist <id>`: post it (again, with its ticks, if it was posted)."""
        inc = await self.in_channel(channel_id, "checklist")
        checklist = self.playbook.checklist(checklist_id)
        if checklist is None:
            raise UserError(f"That checklist is not in the playbook. {self.checklist_names()}")
        await self._post_checklist(inc, checklist)

    def checklist_names(self) -> str:
        if not self.playbook.checklists:
            return "This playbook has no checklists."
        return "Checklists: " + ", ".join(
            f"`{c.id}` ({c.title}, {'on demand' if c.when == 'demand' else 'on ' + c.when})"
            for c in self.playbook.checklists) + "."

    async def tick(self, incident_id: int, checklist_id: str, selected: set[int],
                   seen: set[int], by: str) -> set[int]:
        """Apply what this person changed (their selection against what their copy of the
        message showed), so two people ticking at once both end up seeing both ticks.
        Recorded in the timeline, even on a resolved incident."""
        checklist = self.playbook.checklist(checklist_id)
        if checklist is None:
            raise UserError("That checklist is no longer in the playbook.")
        valid = set(range(len(checklist.items)))
        added, removed = (selected - seen) & valid, (seen - selected) & valid
        now = self.clock()
        async with self.db.write() as s:
            inc = await repo.lock_incident(s, incident_id)
            if inc is None:
                raise UserError("That incident no longer exists.")
            row = await repo.claim_checklist_post(s, incident_id, checklist_id)
            before = set(row.ticked)
            after = (before | added) - removed
            for index in sorted(after ^ before):
                done = index in after
                await repo.add_entry(
                    s, incident_id, "checklist", now, by,
                    f"{checklist.title}: {'ticked' if done else 'unticked'} "
                    f"\u201c{checklist.items[index].text}\u201d",
                    {"checklist": checklist_id, "item": index, "ticked": done})
            row.ticked = sorted(after)
        await self.chat.refresh_checklist(inc, checklist)
        return after

    # ----- timeline and postmortem -------------------------------------------------------
    async def add_note(self, channel_id: str, text: str, by: str) -> TimelineEntry:
        inc = await self.in_channel(channel_id, "note")
        entry = await self.timeline.note(inc, by, text)
        await self.chat.note_added(inc, by, entry.text)
        return entry

    async def draft_postmortem(self, inc: Incident) -> str:
        """The postmortem Markdown, with people's names where the chat side knows them."""
        entries = await self.timeline.entries(inc.id)
        people = {inc.declared_by, *(e.actor for e in entries if e.actor)}
        people |= {str(e.data[k]) for e in entries for k in ("user", "previous")
                   if e.kind == "role_assigned" and e.data.get(k)}
        names = await self.chat.display_names(inc, people)
        return self.postmortems.build(inc, entries, names, self.clock(),
                                      await self.checklist_state(inc.id))

    async def publish_postmortem(self, channel_id: str, by: str) -> Incident:
        """Build the draft, upload it to the incident channel and remember that it exists."""
        inc = await self.in_channel(channel_id, "postmortem")
        document = await self.draft_postmortem(inc)
        filename = f"postmortem-{inc.channel_name or inc.label.lower()}.md"
        await self.chat.upload_postmortem(inc, filename, document)
        now = self.clock()
        async with self.db.write() as s:
            await repo.update_incident(s, inc.id, postmortem_at=now)
            await repo.add_entry(s, inc.id, "postmortem", now, by, filename)
            await reminder_rows.cancel_reminders(s, inc.id, (plan.POSTMORTEM,))
        return replace(inc, postmortem_at=now)

    async def mark_postmortem_done(self, incident_id: int, by: str) -> Incident:
        """Someone wrote the postmortem elsewhere: stop the postmortem reminders."""
        now = self.clock()
        async with self.db.write() as s:
            inc = await repo.lock_incident(s, incident_id)
            if inc is None:
                raise UserError("That incident no longer exists.")
            if inc.postmortem_at is not None:
                raise UserError(f"The postmortem for {inc.label} is already done.")
            await repo.update_incident(s, inc.id, postmortem_at=now)
            await repo.add_entry(s, inc.id, "postmortem_done", now, by, "")
            await reminder_rows.cancel_reminders(s, inc.id, (plan.POSTMORTEM,))
        return replace(inc, postmortem_at=now)

    # ----- reminders ----------------------------------------------------------------------
    async def snooze(self, incident_id: int, minutes: int, by: str) -> datetime:
        """Push the update reminder back; recorded in the timeline."""
        now = self.clock()
        until = now + timedelta(minutes=minutes)
        async with self.db.write() as s:
            inc = self.require_open(await repo.lock_incident(s, incident_id))
            pending = await reminder_rows.pending_reminders(s, inc.id, (plan.UPDATE,))
            if pending and pending[0].due_at >= until - SNOOZE_SLACK:
                raise UserError(f"Update reminders for {inc.label} are already quiet until "
                                f"{pending[0].due_at.astimezone(self.tz):%H:%M %Z}.")
            await reminder_rows.set_reminder(s, inc.id, plan.UPDATE, until)
            await repo.add_entry(s, inc.id, "snoozed", now, by, f"{minutes}m",
                                 {"until": until.isoformat(), "minutes": minutes})
        self.reminders_changed()
        await self.chat.snoozed(inc, by, until)
        return until

    async def fire_reminder(self, r: Reminder) -> tuple[str, list[plan.Planned]]:
        """Say what a due reminder row asks for, if its condition still holds.

        Returns the row's outcome (`sent` or `skipped`) and the rows to plan after it, which
        the dispatcher stores in the same transaction that closes this one.
        """
        inc = await self.get(r.incident_id)
        if inc is None or not inc.channel_id:
            return reminder_rows.SKIPPED, []
        sev = self.playbook.severity(inc.severity)
        now = self.clock()
        if r.kind == plan.POSTMORTEM:
            if inc.postmortem_at is not None:
                return reminder_rows.SKIPPED, []
            follow = [plan.Planned(plan.POSTMORTEM, now + plan.POSTMORTEM_REPEAT, r.step + 1)]
            if not await self._posted_before(inc, r):
                await self.chat.remind_postmortem(inc, r.id)
            return reminder_rows.SENT, follow
        if inc.is_resolved:
            return reminder_rows.SKIPPED, []
        if r.kind == plan.UPDATE:
            due = plan.next_update(sev, inc.last_update_at, now)
            if due is None:
                return reminder_rows.SKIPPED, []
            # Repeat on the cadence from now: after downtime, one reminder, not a pile.
            follow = [plan.Planned(plan.UPDATE, now + sev.update_every)]  # type: ignore[operator]
            if not await self._posted_before(inc, r):
                await self.chat.remind_update(inc, r.id, now - inc.last_update_at)
            return reminder_rows.SENT, follow
        if r.kind == plan.IC_NUDGE:
            if inc.commander is not None:
                return reminder_rows.SKIPPED, []
            if not await self._posted_before(inc, r):
                await self.chat.nudge_commander(inc, r.id, now - inc.declared_at)
            return reminder_rows.SENT, []
        if r.kind == plan.ESCALATION and r.step < len(sev.escalation):
            if not await self._posted_before(inc, r):
                await self.chat.escalate(inc, r.id, sev.escalation[r.step])
            return reminder_rows.SENT, []
        return reminder_rows.SKIPPED, []

    async def _posted_before(self, inc: Incident, r: Reminder) -> bool:
        """A row claimed before (its claimer died after posting, before recording it): look
        in the channel for the message carrying this reminder's id instead of posting again."""
        if r.attempts <= 1:
            return False
        return await self.chat.reminder_already_posted(inc, r.id, r.due_at)

    async def find(self, ref: str) -> Incident | None:
        """An incident by channel ID, channel name (with or without #) or INC-n label."""
        ref = ref.strip().lstrip("#")
        async with self.db.read() as s:
            if ref.upper().startswith("INC-") and ref[4:].isdigit():
                return await repo.get_incident(s, int(ref[4:]))
            return (await repo.get_by_channel(s, ref)
                    or await repo.get_by_channel_name(s, ref))

    # ----- vocabulary for messages --------------------------------------------------------
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
    async with db.read() as s:  # one transaction: the incidents and entries agree
        found = await repo.list_declared_since(s, since, team_id)
        entries = await repo.entries_of_declared_since(s, since, team_id, stats.KINDS)
    return stats.compute(found, entries, playbook, period, now)


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
