"""Paging on-call: stored first, sent by the outbox, retried, never blocking the incident.

`page` stores the page (once per incident, target and dedup key: an escalation step that
fires again, a restart or a second replica finds the row and pages no one twice), its
timeline entry and a `page_requested` event, in one transaction. The `pages` subscriber
(`subscriber()`) sends it: 429, 5xx and unreachable services are tried again with backoff
(Retry-After when given), a few times in place and then by the outbox; a refusal (400, 401,
422) is not. The channel hears how it went: paged, retrying, or given up (page them another
way). When the incident resolves, the same subscriber (after the incident's earlier pages,
in order) resolves (PagerDuty) or closes (Opsgenie) every page that was sent, and cancels
any that never was: whatever Slack is doing meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from bot.incidents.events import Event, EventLog, Kind
from bot.incidents.model import Clock, Incident, utcnow
from bot.outbox import Retry, Subscriber
from bot.paging.clients import Page, PageFailed, PagerClient
from bot.playbooks import Playbook
from bot.store import entry_rows, page_rows, repo
from bot.store.db import Database

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)  # seconds between tries in place: six within ~30 s
SEVERITY = ("critical", "error", "warning")  # by the severity's rank; below them: info
Tell = Callable[[Incident, str], Awaitable[None]]


class Pager:
    def __init__(self, db: Database, playbook: Playbook, clients: dict[str, PagerClient],
                 tell: Tell, events: EventLog, *, clock: Clock = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db, self.playbook, self.clients, self.tell = db, playbook, clients, tell
        self.events, self.clock, self.sleep = events, clock, sleep

    def targets(self) -> list[str]:
        """Every target with a key: `pagerduty:<service>`, `opsgenie:<team>`."""
        return [f"{service}:{who}" for service, client in self.clients.items()
                for who in client.keys]

    def name(self, target: str) -> str:
        service, _, who = target.partition(":")
        return f"{'PagerDuty' if service == 'pagerduty' else 'Opsgenie'} {who}"

    def page_for(self, inc: Incident, key: str, reason: str) -> Page:
        sev = self.playbook.severity(inc.severity)
        rank = self.playbook.severity_rank(inc.severity)
        links = (("Slack channel", f"https://slack.com/app_redirect?channel={inc.channel_id}"),
                 ) if inc.channel_id else ()
        return Page(dedup_key=key, summary=f"{inc.label} {sev.id} ({sev.name}): {inc.title}",
                    severity=SEVERITY[rank] if rank < len(SEVERITY) else "info",
                    source="Foghorn", links=links, details=reason)

    async def page(self, inc: Incident, target: str, *, key: str, reason: str,
                   by: str | None = None) -> int | None:
        """Store the page and its event; the event's id (None when this page was made
        already: the same step again, a retry, another replica)."""
        page = self.page_for(inc, f"foghorn-{inc.id}-{key}", reason)
        now = self.clock()
        async with self.db.write() as s:
            row_id = await page_rows.add(s, inc.id, target, page.dedup_key, asdict(page), now)
            if row_id is None:
                return None
            await entry_rows.add_entry(s, inc.id, "page", now, by,
                                       f"paged {self.name(target)}: {reason}"[:500],
                                       {"target": target, "dedup_key": page.dedup_key})
            event = self.events.record(s, inc.id, Kind.PAGE_REQUESTED,
                                       {"page": row_id, "target": target}, now)
        return int(event.id)

    # ----- the `pages` subscriber ----------------------------------------------------------
    def subscriber(self) -> Subscriber:
        return Subscriber("pages", frozenset({Kind.PAGE_REQUESTED, Kind.RESOLVED}),
                          self._handle, attempts=6, parked=self._parked)

    async def _handle(self, event: Event, attempt: int) -> None:
        if event.incident_id is None:
            return
        async with self.db.read() as s:
            inc = await repo.get_incident(s, event.incident_id)
        if inc is None:
            return
        if event.kind == Kind.PAGE_REQUESTED:
            await self._send(int(event.data["page"]), inc, attempt)
        elif event.kind == Kind.RESOLVED:
            await self._resolve_all(inc)

    async def _send(self, page_id: int, inc: Incident, attempt: int) -> None:
        async with self.db.read() as s:
            row = await page_rows.get(s, page_id)
        if row is None or row.status != page_rows.PENDING:
            return  # sent (the answer was lost), cancelled, or failed for good
        if inc.is_resolved:  # an escalation step that raced the resolve
            async with self.db.write() as s:
                await page_rows.cancel_pending(s, inc.id)
            return
        page = Page(**{**row.payload, "links": tuple(tuple(x) for x in row.payload["links"])})
        service, _, who = row.target.partition(":")
        error = await self._tries(lambda: self.clients[service].trigger(who, page), inc,
                                  f"Paging {self.name(row.target)}", page_id,
                                  first=attempt == 1)
        if error is not None and error.retry:
            raise Retry(str(error), after=error.retry_after or 0.0)
        async with self.db.write() as s:
            await page_rows.finish(s, page_id, None if error is None else str(error),
                                   self.clock())
        if error is None:
            await self._say(inc, f":pager: Paged {self.name(row.target)} for {inc.label}.")
        else:
            await self._gave_up(inc, row.target, str(error))

    async def _parked(self, event: Event, error: str) -> None:
        """The outbox gave up on a page (it kept failing): say so, and mark it failed."""
        if event.kind != Kind.PAGE_REQUESTED or event.incident_id is None:
            return
        async with self.db.write() as s:
            await page_rows.finish(s, int(event.data["page"]), error, self.clock())
        async with self.db.read() as s:
            inc = await repo.get_incident(s, event.incident_id)
        if inc is not None:
            await self._gave_up(inc, str(event.data["target"]), error)

    async def _gave_up(self, inc: Incident, target: str, error: str) -> None:
        await self._say(inc, f":x: Could not page {self.name(target)} for {inc.label} "
                             f"({error}). Reach them another way.")

    async def _resolve_all(self, inc: Incident) -> None:
        """Resolve every page sent for the incident; cancel any never sent. A failure is
        retried (by the outbox) for the pages still open only."""
        async with self.db.write() as s:
            cancelled = await page_rows.cancel_pending(s, inc.id)
            rows = await page_rows.sent(s, inc.id)
        if cancelled:
            log.info("%s resolved: %d page(s) not sent were cancelled", inc.label, cancelled)
        errors = await asyncio.gather(*(self._resolve(row.id, inc, row.target, row.dedup_key)
                                        for row in rows))
        failed = [e for e in errors if e is not None]
        if failed:
            raise Retry(str(failed[0]), after=failed[0].retry_after or 0.0)

    async def _resolve(self, row_id: int, inc: Incident, target: str, key: str
                       ) -> PageFailed | None:
        service, _, who = target.partition(":")
        error = await self._tries(lambda: self.clients[service].resolve(who, key), inc,
                                  f"Resolving the page to {self.name(target)}", None,
                                  first=False)
        if error is None:
            async with self.db.write() as s:
                await page_rows.resolved(s, row_id, self.clock())
            return None
        if not error.retry:
            await self._say(inc, f":warning: Could not resolve the page to "
                                 f"{self.name(target)} ({error}): resolve it there.")
            return None
        return error

    async def _tries(self, attempt: Callable[[], Awaitable[None]], inc: Incident, what: str,
                     row_id: int | None, *, first: bool) -> PageFailed | None:
        """None once it worked; else the last error (retryable or not)."""
        for n in range(len(BACKOFF) + 1):
            try:
                await attempt()
                return None
            except PageFailed as exc:
                if row_id is not None:
                    async with self.db.write() as s:
                        await page_rows.count(s, row_id, str(exc))
                if not exc.retry or n == len(BACKOFF):
                    return exc
                if n == 0 and first:
                    await self._say(inc, f":warning: {what} failed ({exc}); retrying.")
                log.warning("%s failed (%s); try %d of %d", what, exc, n + 1,
                            len(BACKOFF) + 1)
                await self.sleep(max(BACKOFF[n], exc.retry_after or 0))
        return None  # not reached

    async def close(self) -> None:
        for session in {c.session for c in self.clients.values()}:
            await session.close()

    async def _say(self, inc: Incident, text: str) -> None:
        try:
            await self.tell(inc, text)
        except Exception as exc:  # the page matters more than saying so
            log.warning("could not tell %s's channel about a page: %s", inc.label, exc)
