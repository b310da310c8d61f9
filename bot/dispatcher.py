"""The reminder dispatcher: claims due reminder rows and has them said, exactly once.

State lives in the `reminders` table, not here. APScheduler (in memory, UTC) only decides when
to look: at the earliest due time it knows of, right after the service changes a row, and on
a short safety interval (which also covers rows another replica planned). A look claims due
rows atomically with a lease (see `repo.claim_due`), fires them side by side, and closes each
one together with the rows that follow it (the next update reminder, say) in one transaction.
A claim whose process died is claimed again when its lease runs out; the service then checks
the channel for the message before posting again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.incidents.model import Clock, Reminder, utcnow
from bot.incidents.reminders import Planned
from bot.logs import bind
from bot.store import repo
from bot.store.db import Database

log = logging.getLogger(__name__)

Fire = Callable[[Reminder], Awaitable[tuple[str, list[Planned]]]]

LEASE = timedelta(minutes=5)
BATCH = 50
CONCURRENCY = 20
SAFETY_INTERVAL = 5.0  # seconds
RETRY_AFTER_FAILURE = timedelta(seconds=30)


class Dispatcher:
    def __init__(self, db: Database, fire: Fire, *, clock: Clock = utcnow,
                 owner: str | None = None, broken_claim: bool = False) -> None:
        self.db = db
        self.fire = fire
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.broken_claim = broken_claim  # tests only: the unlocked claim that doubles sends
        self.sent = 0
        self._run_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._scheduler: AsyncIOScheduler | None = None
        self._poked = False  # a look is already on its way
        # Called for each reminder posted, with when it was recorded (for the metrics).
        self.on_sent: Callable[[Reminder, datetime], None] = lambda r, at: None

    # ----- doing the work -----------------------------------------------------------------
    async def run_due(self) -> int:
        """Fire everything due now; return how many reminders were handled."""
        handled = 0
        async with self._run_lock:
            while True:
                async with self.db.write() as s:
                    claimed = await repo.claim_due(s, self.clock(), self.owner, LEASE, BATCH,
                                                   broken=self.broken_claim)
                if not claimed:
                    return handled
                results = await asyncio.gather(*(self._fire_one(r) for r in claimed))
                await self._record(claimed, results)
                handled += len(claimed)

    async def _fire_one(self, r: Reminder) -> tuple[str, list[Planned]] | None:
        """Say it; None if that failed (the row is then given back for a later try)."""
        async with self._slots:
            bind(reminder=r.id, reminder_kind=r.kind)
            try:
                return await self.fire(r)
            except Exception as exc:
                log.warning("reminder %d (%s) failed, retrying later: %s", r.id, r.kind, exc)
                return None

    async def _record(self, claimed: list[Reminder],
                      results: list[tuple[str, list[Planned]] | None]) -> None:
        """Close a batch in one transaction: each row with the rows that follow it. A crash
        before this commits leaves the batch claimed; its lease runs out, it is claimed
        again, and the service finds the messages already posted instead of repeating them."""
        now = self.clock()
        async with self.db.write() as s:
            for r, result in zip(claimed, results, strict=True):
                if result is None:
                    await repo.release_reminder(s, r.id, self.owner, now + RETRY_AFTER_FAILURE)
                    continue
                outcome, follow = result
                if not await repo.finish_reminder(s, r.id, self.owner, outcome, now):
                    log.warning("reminder %d: claim lost before it was recorded", r.id)
                    continue
                for p in follow:
                    await repo.add_reminder(s, r.incident_id, p.kind, p.due_at, p.step)
                if outcome == repo.SENT:
                    self.sent += 1
                    self.on_sent(r, now)

    # ----- deciding when ------------------------------------------------------------------
    async def start(self) -> None:
        """Fire what is overdue (after a restart, say), then keep watching."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self._tick, "interval", seconds=SAFETY_INTERVAL, id="safety",
                                max_instances=1, coalesce=True)
        self._scheduler.start()
        await self._tick()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        async with self._run_lock:  # let a run in progress finish
            pass

    def poke(self) -> None:
        """Reminder rows changed: look again at once (and re-plan the next wake-up). Pokes
        that arrive before that look has started are one poke: a burst of declares costs
        one look, not one each."""
        if self._scheduler is not None and not self._poked:
            self._poked = True
            self._wake_at(datetime.now(UTC))

    async def _tick(self) -> None:
        self._poked = False  # changes from here on need a look of their own
        try:
            await self.run_due()
            async with self.db.read() as s:
                nxt = await repo.next_due(s)
        except Exception:
            log.exception("reminder dispatch failed; trying again on the next tick")
            return
        if self._poked:  # rows changed during this run: the poke's wake-up must stand
            self._wake_at(datetime.now(UTC))
        elif nxt is not None:
            # Due times are on the injected clock; wake-ups on the real one.
            self._wake_at(datetime.now(UTC) + max(nxt - self.clock(), timedelta(0)))

    def _wake_at(self, when: datetime) -> None:
        if self._scheduler is None:
            return
        # A second instance may start while one runs: it waits on the run lock, so a wake-up
        # that arrives mid-run is never dropped.
        self._scheduler.add_job(self._tick, "date", run_date=when, id="next",
                                replace_existing=True, misfire_grace_time=None, max_instances=2)
