"""Delivers stored incident events to their subscribers, each on its own.

A change commits its events with a pending delivery per subscriber (store.outbox_rows). The
relay claims deliveries (with a lease, safe with replicas and kill -9: a dead relay's claims
are taken over), runs each subscriber's handler, and records the outcome: done; retried
later with backoff (or the Retry-After a handler names); parked after the subscriber's last
attempt, with its error, for `foghorn outbox` and /metrics to show. Deliveries run side by
side and are recorded one by one, so a subscriber failing or waiting never delays another;
within an incident a subscriber takes events in order.

`deliver(ids)` runs the deliveries of events just committed at once, in the caller's task (the
person who made the change hears if the incident's channel refused it); `poke()` has a look
for anything else due, in the background; `start()` looks on a safety interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.background import Background
from bot.incidents.events import Event, Kind
from bot.incidents.model import Clock, utcnow
from bot.logs import bind
from bot.store import outbox_rows, reminder_rows
from bot.store.db import Database
from bot.store.tables import DeliveryRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
TAKEOVER = timedelta(seconds=30)  # a relay silent this long has its claims taken over
SAFETY_INTERVAL = 5.0  # seconds between looks, besides pokes and retry wake-ups
BATCH = 50
BACKOFF = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class Retry(Exception):
    """A handler's way to say "not now": try again after `after` seconds at the earliest."""

    def __init__(self, reason: str, after: float = 0.0) -> None:
        super().__init__(reason)
        self.after = after


@dataclass(frozen=True)
class Subscriber:
    """A reaction to events: `handle` is called once per event of `kinds` until it returns
    (done), at most `attempts` times; then `parked` (if given) hears the last error.
    `tells`: its failure on the first try is also raised to whoever made the change."""

    name: str
    kinds: frozenset[Kind]
    handle: Callable[[Event, int], Awaitable[None]]  # (event, attempt number from 1)
    attempts: int = 8
    backoff: tuple[float, ...] = BACKOFF
    tells: bool = False
    parked: Callable[[Event, str], Awaitable[None]] | None = field(default=None)

    def wait(self, attempt: int) -> float:
        return self.backoff[min(attempt, len(self.backoff)) - 1]


class Relay:
    def __init__(self, db: Database, background: Background, *, owner: str,
                 clock: Clock = utcnow) -> None:
        self.db, self.background, self.owner, self.clock = db, background, owner, clock
        self.subscribers: dict[str, Subscriber] = {}
        self.routes: dict[Kind, tuple[str, ...]] = {kind: () for kind in Kind}
        self.delivered = 0
        self.on_outcome: Callable[[str, str], None] = lambda subscriber, outcome: None
        self._poked = False
        self._task: asyncio.Task[None] | None = None  # the safety loop, once started

    def subscribe(self, subscribers: list[Subscriber]) -> None:
        """Register the reactions (once, at wiring: bot.reactions has the list)."""
        names = [s.name for s in subscribers]
        assert len(set(names)) == len(names), "subscriber names must be unique"
        self.subscribers = {s.name: s for s in subscribers}
        self.routes = {kind: tuple(s.name for s in subscribers if kind in s.kinds)
                       for kind in Kind}

    # ----- the EventLog the service writes through ---------------------------------------
    def record(self, session: outbox_rows.Session, incident_id: int | None, kind: Kind,
               data: dict[str, Any], at: datetime, *, stream: str | None = None) -> Any:
        return outbox_rows.record(session, incident_id, kind, data, at, self.routes[kind],
                                  stream=stream)

    # ----- delivering ----------------------------------------------------------------------
    async def deliver(self, event_ids: list[int]) -> None:
        """Run now the deliveries of these events (committed by the caller) that are at the
        head of their line; the rest wait for a look. Raises the first failure of a `tells`
        subscriber once every delivery has been recorded."""
        if not event_ids:
            return
        now = self.clock()
        async with self.db.write() as s:
            claimed = await outbox_rows.claim(s, now, self.owner, LEASE, BATCH,
                                              silent_since=now - TAKEOVER, event_ids=event_ids)
        errors = await asyncio.gather(*(self._run(d, e) for d, e in claimed))
        self.poke()  # what these unblocked, or what they left to retry
        told = [err for (d, _), err in zip(claimed, errors, strict=True)
                if err is not None and self.subscribers[d.subscriber].tells]
        if told:
            raise told[0]

    def soon(self, event_ids: list[int]) -> None:
        """`deliver`, in the background: for reactions nobody waits for (pages)."""
        if event_ids:
            self.background.spawn(self._deliver_quietly(event_ids), "outbox-deliver")

    async def _deliver_quietly(self, event_ids: list[int]) -> None:
        try:
            await self.deliver(event_ids)
        except Exception as exc:  # recorded and retried; nobody to tell
            log.debug("a reaction failed and will be retried: %s", exc)

    def poke(self) -> None:
        """Look for due deliveries soon, in the background (pokes coalesce)."""
        if self._poked:
            return
        self._poked = True
        self.background.spawn(self.run_due(), "outbox")

    async def run_due(self) -> int:
        """Claim what is due and start each delivery in the background; how many started."""
        self._poked = False
        now = self.clock()
        async with self.db.read() as s:
            if not await outbox_rows.any_claimable(s, now, self.owner, now - TAKEOVER):
                return 0
        started = 0
        while True:
            now = self.clock()
            async with self.db.write() as s:
                await reminder_rows.heartbeat(s, self.owner, now)
                claimed = await outbox_rows.claim(s, now, self.owner, LEASE, BATCH,
                                                  silent_since=now - TAKEOVER)
            for d, e in claimed:
                self.background.spawn(self._run_and_poke(d, e), f"outbox-{d.subscriber}")
            started += len(claimed)
            if len(claimed) < BATCH:
                return started

    async def _run_and_poke(self, d: DeliveryRow, e: Event) -> None:
        await self._run(d, e)
        self.poke()

    async def _run(self, d: DeliveryRow, event: Event) -> BaseException | None:
        """Run one delivery and record how it went; the failure, if any."""
        sub = self.subscribers.get(d.subscriber)
        bind(incident=event.incident_id and f"INC-{event.incident_id}")
        error: BaseException | None = None
        if sub is None:  # a subscriber this version no longer has
            error = RuntimeError(f"no subscriber {d.subscriber!r} in this version")
        else:
            try:
                await sub.handle(event, d.attempts)
            except Exception as exc:
                error = exc
        await self._record(d, event, sub, error)
        return error

    async def _record(self, d: DeliveryRow, event: Event, sub: Subscriber | None,
                      error: BaseException | None) -> None:
        now = self.clock()
        what = f"{d.subscriber} of event {event.id} ({event.kind})"
        if error is None:
            async with self.db.write() as s:
                if not await outbox_rows.finish(s, d.id, self.owner, now):
                    log.warning("%s: claim lost before it was recorded", what)
            self.delivered += 1
            self.on_outcome(d.subscriber, "done")
            return
        reason = _reason(error)
        if sub is None or d.attempts >= sub.attempts:
            log.error("%s parked after %d attempt(s): %s", what, d.attempts, reason)
            async with self.db.write() as s:
                await outbox_rows.park(s, d.id, self.owner, now, reason)
            self.on_outcome(d.subscriber, "parked")
            if sub is not None and sub.parked is not None:
                try:
                    await sub.parked(event, reason)
                except Exception as exc:
                    log.warning("%s: telling of the parking failed: %s", what, exc)
            return
        wait = max(sub.wait(d.attempts), error.after if isinstance(error, Retry) else 0.0)
        log.warning("%s failed (attempt %d of %d), retrying in %.0f s: %s", what, d.attempts,
                    sub.attempts, wait, reason)
        async with self.db.write() as s:
            await outbox_rows.retry_later(s, d.id, self.owner, now + timedelta(seconds=wait),
                                          reason)
        self.on_outcome(d.subscriber, "retry")
        self._wake_in(wait)

    # ----- when to look ------------------------------------------------------------------
    def _wake_in(self, seconds: float) -> None:
        if self._task is None:  # not started (tests drive run_due with their clock)
            return
        asyncio.get_running_loop().call_later(seconds, self._woken)

    def _woken(self) -> None:
        if self._task is not None:  # a wake-up after stop() does nothing
            self.poke()

    async def start(self) -> None:
        """Take back claims an earlier run left (a single SQLite process: nobody else can
        hold one), then look on the safety interval, renewing the leases of work under way."""
        if self.db.is_sqlite:
            async with self.db.write() as s:
                released = await outbox_rows.release_claims_of_others(s, self.owner)
            if released:
                log.info("took back %d outbox claim(s) left by an earlier run", released)
        self._task = self.background.keep(self._loop(), "outbox-loop")
        self.poke()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(SAFETY_INTERVAL)
            try:
                now = self.clock()
                async with self.db.write() as s:
                    await outbox_rows.renew(s, self.owner, now + LEASE)
                self.poke()
                self.db.outage.ok()
            except Exception as exc:
                self.db.outage.failed(exc, "outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:outbox_rows.ERROR_LIMIT]
