"""Declaring: storing a declare before Slack is answered, then its channel, card, topic and
announcement, each stored as soon as it exists; waiting out Slack's limits; resuming a
declare a crash interrupted; duplicates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.incidents import naming
from bot.incidents import reminders as plan
from bot.incidents.base import (
    ADOPT_MARGIN,
    DUPLICATE_WINDOW,
    MAX_NAME_ATTEMPTS,
    RETRY_FOR,
    STORE_FOR,
    DeclareRequest,
    DeclareResult,
    ServiceBase,
    _warning,
    dedup_key,
    retryable,
)
from bot.incidents.errors import ChannelNameTaken, ChatError, UserError
from bot.incidents.events import Kind
from bot.incidents.model import TEXT_LIMIT, TITLE_LIMIT, Incident, clip
from bot.logs import bind
from bot.store import repo

log = logging.getLogger(__name__)


class Declaring(ServiceBase):
    # ----- declaring ----------------------------------------------------------------------
    async def declare(self, req: DeclareRequest) -> DeclareResult:
        """`register` then `complete` in one go."""
        result = await self.register(req)
        return result if result.duplicate else await self.complete(result.incident)

    async def register(self, req: DeclareRequest) -> DeclareResult:
        """Store the incident (before Slack is answered: an acknowledged declare survives a
        crash). Idempotent per (person, title) for DUPLICATE_WINDOW: a double submit gets the
        first incident back, marked duplicate."""
        now = self.clock()
        stored = await self._registrations.submit(self.declaration(req, now))
        if isinstance(stored, int):  # declared moments ago by the same person
            found = await self.get(stored)
            assert found is not None
            return DeclareResult(found, duplicate=True)
        self.registered(stored)
        return DeclareResult(stored)

    def registered(self, stored: Incident) -> None:
        """A new incident is stored: wake the dispatcher, count it."""
        self.reminders_changed()
        self.reactions.poke()  # its `declared` event
        bind(incident=stored.label)

    def declaration(self, req: DeclareRequest, now: datetime, *,
                    detected_at: datetime | None = None, key: str | None = None
                    ) -> dict[str, Any]:
        """What `repo.register_incident` stores for a declare: the row, its `declared` entry
        and first reminders. `key` replaces the (person, title) duplicate key."""
        title = clip(req.title.strip(), TITLE_LIMIT)  # the edge already told the person
        if not title:
            raise UserError("An incident needs a title, e.g. `/incident declare sev2 Checkout "
                            "API returning 500s`.")
        kind = self.playbook.incident_type(req.type) or self.playbook.default_type
        severity = self.playbook.severity(req.severity or (kind and kind.default_severity)
                                          or self.playbook.default_severity.id)
        private = req.is_private if req.is_private is not None else bool(kind and kind.private)
        type_id = kind.id if kind else None
        key = key or dedup_key(req.team_id, req.by, title)
        fields = {"team_id": req.team_id, "enterprise_id": req.enterprise_id, "title": title,
                  "description": clip(req.description.strip(), TEXT_LIMIT),
                  "severity": severity.id, "type": type_id,
                  "status": self.playbook.initial_status.id, "is_private": private,
                  "setup_done": False, "declared_by": req.by, "declared_at": now,
                  "last_update_at": now, "origin_channel_id": req.origin_channel,
                  "dedup_key": key, "detected_at": detected_at or req.detected_at}
        declared = {"kind": "declared", "occurred_at": now, "actor": req.by, "text": title,
                    "data": {"severity": severity.id, "private": private, "type": type_id}}
        reminders = [(p.kind, p.due_at, p.step) for p in
                     plan.on_declare(self.playbook.severity_for(severity.id, type_id), now)]
        return {"since": now - DUPLICATE_WINDOW, "fields": fields, "declared": declared,
                "reminders": reminders}

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
                    try:  # telling the person is not the work: failing to never ends it
                        await queued(inc, exc.error)
                    except Exception as told:
                        log.warning("declare %s: could not say it is queued: %s", inc.label,
                                    told)
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
                channel_id: str | None = await self.channels.create_channel(inc, name)
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
        if claimed:
            self.timeline.claimed(channel_id, inc.id)
        else:
            log.info("%s: a channel by that name belongs to another incident", inc.label)
        return claimed

    async def _post_once(self, inc: Incident, what: str,
                         post: Callable[[Incident], Awaitable[str]]) -> str:
        """Post the card or the announcement, unless a crash interrupted this declare after
        it was posted but before its ts was stored: then find it and use it."""
        if not inc.setup_interrupted:
            return await post(inc)
        found = await self.channels.find_posted(inc, what)
        return found if found is not None else await post(inc)

    async def _adopt(self, inc: Incident, name: str) -> str | None:
        """A crash between creating the channel and storing its ID leaves a channel of ours
        behind: use it rather than make a second one for the same declare."""
        channel_id = await self.channels.own_channel(inc, name, inc.declared_at - ADOPT_MARGIN)
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
            "invite": self.channels.invite(inc, [inc.declared_by]),
            "topic": self.channels.set_topic(inc),
        }
        if inc.card_ts is None:
            jobs["card"] = self._post_once(inc, "card", self.channels.post_card)
        if not inc.is_private and inc.announcement_ts is None:
            jobs["announce"] = self._post_once(inc, "announcement", self.channels.announce_declared)
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
            await self.channels.pin_card(inc)
        except ChatError as exc:
            warnings.append(_warning("pin", exc))
        try:
            await self.post_checklists(inc, "declare")
        except ChatError as exc:
            warnings.append(_warning("checklist", exc))
        try:
            await self.channels.links_and_notices(inc, resumed=inc.setup_interrupted)
        except ChatError as exc:
            warnings.append(_warning("links", exc))
        await self.page_targets(inc, self.playbook.severity_for(inc.severity, inc.type).notify,
                                key="declare", reason="declared")
        async with self.db.write() as s:
            await repo.update_incident(s, inc.id, setup_done=True)
            event = self.record(s, inc, Kind.SETUP_DONE, {}, self.clock())
        inc = replace(inc, setup_done=True)
        await self.react(event, quiet=True)  # the declare itself is done
        return DeclareResult(inc, warnings=tuple(warnings))
