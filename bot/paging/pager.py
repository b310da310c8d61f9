"""Paging on-call: stored first, sent in the background, retried, never blocking the incident.

`page` stores the page (once per incident, target and dedup key: an escalation step that
fires again, a restart or a second replica finds the row and pages no one twice), writes the
timeline entry, and sends it behind the caller's back. 429, 5xx and unreachable services are
retried with backoff (Retry-After when given); a refusal (400, 401, 422) is not. The channel
hears how it went: paged, retrying, or given up (page them another way). When the incident
resolves, every page sent for it is resolved (PagerDuty) or closed (Opsgenie). Pages a crash
left unsent are sent at the next start (`resume`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.incidents.model import Clock, Incident, utcnow
from bot.paging.clients import Page, PageFailed, PagerClient
from bot.playbooks import Playbook
from bot.store import repo
from bot.store.db import Database
from bot.store.tables import PageRow

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)  # seconds between tries: six tries within ~30 s
SEVERITY = ("critical", "error", "warning")  # by the severity's rank; below them: info
Tell = Callable[[Incident, str], Awaitable[None]]


class Pager:
    def __init__(self, db: Database, playbook: Playbook, clients: dict[str, PagerClient],
                 tell: Tell, *, clock: Clock = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db, self.playbook, self.clients, self.tell = db, playbook, clients, tell
        self.clock, self.sleep = clock, sleep
        self._tasks: set[asyncio.Task[None]] = set()

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
                   by: str | None = None) -> bool:
        """Store and send (in the background). False when this page was made already."""
        page = self.page_for(inc, f"foghorn-{inc.id}-{key}", reason)
        now = self.clock()
        try:
            async with self.db.write() as s:
                row = PageRow(incident_id=inc.id, target=target, dedup_key=page.dedup_key,
                              status="pending", attempts=0, payload=asdict(page),
                              created_at=now)
                s.add(row)
                await s.flush()
                await repo.add_entry(s, inc.id, "page", now, by,
                                     f"paged {self.name(target)}: {reason}"[:500],
                                     {"target": target, "dedup_key": page.dedup_key})
                row_id = row.id
        except IntegrityError:
            return False  # paged already (the same step again, a retry, another replica)
        self._spawn(self._send(row_id, inc, target, page))
        return True

    async def resolve_all(self, inc: Incident) -> None:
        async with self.db.read() as s:
            rows = list(await s.scalars(select(PageRow).where(
                PageRow.incident_id == inc.id, PageRow.status == "sent")))
        for row in rows:
            self._spawn(self._resolve(row.id, inc, row.target, row.dedup_key))

    async def resume(self) -> None:
        async with self.db.read() as s:
            rows = list(await s.scalars(select(PageRow).where(PageRow.status == "pending")))
        for row in rows:
            async with self.db.read() as s:
                inc = await repo.get_incident(s, row.incident_id)
            if inc is not None:
                self._spawn(self._send(row.id, inc, row.target, Page(**{
                    **row.payload, "links": tuple(tuple(x) for x in row.payload["links"])})))

    async def close(self, within: float) -> None:
        """Let pages under way finish for `within` seconds (shutdown's budget), then stop
        them: a page not yet sent stays `pending` and is sent at the next start (its dedup
        key makes a repeat harmless)."""
        try:
            await asyncio.wait_for(self.drain(), within)
        except TimeoutError:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for session in {c.session for c in self.clients.values()}:
            await session.close()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ----- sending -------------------------------------------------------------------------
    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, row_id: int, inc: Incident, target: str, page: Page) -> None:
        service, _, who = target.partition(":")
        error = await self._tries(lambda: self.clients[service].trigger(who, page), inc,
                                  f"Paging {self.name(target)}", row_id)
        now = self.clock()
        async with self.db.write() as s:
            row = await s.get(PageRow, row_id)
            if row is not None:
                row.status, row.last_error = ("failed", error[:300]) if error else ("sent", None)
                row.sent_at = None if error else now
        if error is None:
            await self._say(inc, f":pager: Paged {self.name(target)} for {inc.label}.")
        else:
            await self._say(inc, f":x: Could not page {self.name(target)} for {inc.label} "
                                 f"({error}). Reach them another way.")

    async def _resolve(self, row_id: int, inc: Incident, target: str, key: str) -> None:
        service, _, who = target.partition(":")
        error = await self._tries(lambda: self.clients[service].resolve(who, key), inc,
                                  f"Resolving the page to {self.name(target)}", None)
        async with self.db.write() as s:
            row = await s.get(PageRow, row_id)
            if row is not None and error is None:
                row.status, row.resolved_at = "resolved", self.clock()
        if error is not None:
            await self._say(inc, f":warning: Could not resolve the page to "
                                 f"{self.name(target)} ({error}): resolve it there.")

    async def _tries(self, attempt: Callable[[], Awaitable[None]], inc: Incident, what: str,
                     row_id: int | None) -> str | None:
        """None once it worked; else the last error."""
        for n in range(len(BACKOFF) + 1):
            try:
                await attempt()
                return None
            except PageFailed as exc:
                await self._count(row_id, str(exc))
                if not exc.retry or n == len(BACKOFF):
                    return str(exc)
                if n == 0:
                    await self._say(inc, f":warning: {what} failed ({exc}); retrying.")
                log.warning("%s failed (%s); try %d of %d", what, exc, n + 1,
                            len(BACKOFF) + 1)
                await self.sleep(max(BACKOFF[n], exc.retry_after or 0))
        return "gave up"  # not reached

    async def _count(self, row_id: int | None, error: str) -> None:
        if row_id is None:
            return
        async with self.db.write() as s:
            row = await s.get(PageRow, row_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error[:300]

    async def _say(self, inc: Incident, text: str) -> None:
        try:
            await self.tell(inc, text)
        except Exception as exc:  # the page matters more than saying so
            log.warning("could not tell %s's channel about a page: %s", inc.label, exc)

