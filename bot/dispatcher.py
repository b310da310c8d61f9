"""The reminder dispatcher: claims due reminder rows and has them said, exactly once.

State lives in the `reminders` table, not here. APScheduler (in memory, UTC) only decides when
to look: at the earliest due time it knows of, right after the service changes a row, and on
a short safety interval (which also covers rows another replica planned). A look claims due
rows atomically with a lease (see `reminder_rows.claim_due`), fires them side by side, and
closes each one together with the rows that follow it (the next update reminder, say) in one
transaction. A claim whose process died is claimed again when its lease runs out, or sooner
once its dispatcher stops beating (TAKEOVER); the service then checks the channel for the
message before posting again.
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
from bot.incidents.reminders import POSTMORTEM, Planned
from bot.logs import bind
from bot.store import reminder_rows, repo
from bot.store.db import Database

log = logging.getLogger(__name__)

Fire = Callable[[Reminder], Awaitable[tuple[str, list[Planned]]]]

LEASE = timedelta(minutes=5)
BATCH = 50
CONCURRENCY = 20
SAFETY_INTERVAL = 5.0  # seconds
RETRY_AFTER_FAILURE = timedelta(seconds=30)
# A replica silent this long (its heartbeat is every SAFETY_INTERVAL) has its claims taken.
TAKEOVER = timedelta(seconds=30)


def dispatcher_owner() -> str:
    """This process's name in claims and heartbeats (the reminders' and the outbox's)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(self, db: Database, fire: Fire, *, clock: Clock = utcnow,
                 owner: str | None = None,
                 on_sent: Callable[[Reminder, datetime], None] = lambda r, at: None) -> None:
        self.db = db
        self.fire = fire
        self.clock = clock
        self.owner = owner or dispatcher_owner()
        self.sent = 0
        self._run_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._scheduler: AsyncIOScheduler | None = None
        self._poked = False  # a look is already on its way
        # The look under way: our own task, not the scheduler's job (APScheduler cancels
        # its running jobs at shutdown, which cut a reminder run short mid-post).
        self._look: asyncio.Task[None] | None = None
        self._again = False  # asked to look while a look was running
        # Called for each reminder posted, with when it was recorded (for the metrics).
        self.on_sent = on_sent

    # ----- doing the work -----------------------------------------------------------------
    async def run_due(self) -> int:
        """Fire everything due now; return how many reminders were handled."""
        handled = 0
        async with self._run_lock:
            await self.beat()
            while True:
                now = self.clock()
                async with self.db.write() as s:
                    claimed = await reminder_rows.claim_due(s, now, self.owner, LEASE, BATCH,
                                                        silent_since=now - TAKEOVER)
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
                    await reminder_rows.release_reminder(s, r.id, self.owner,
                                                         now + RETRY_AFTER_FAILURE)
                    continue
                outcome, follow = result
                if not await reminder_rows.finish_reminder(s, r.id, self.owner, outcome, now):
                    log.warning("reminder %d: claim lost before it was recorded", r.id)
                    continue
                # A resolve that raced this reminder has cancelled every pending row: only
                # the postmortem's may follow a resolved incident.
                resolved = bool(follow) and await repo.is_resolved(s, r.incident_id)
                for p in follow:
                    if not resolved or p.kind == POSTMORTEM:
                        await reminder_rows.add_reminder(s, r.incident_id, p.kind, p.due_at,
                                                         p.step)
                if outcome == reminder_rows.SENT:
                    self.sent += 1
                    self.on_sent(r, now)

    # ----- deciding when ------------------------------------------------------------------
    async def beat(self) -> None:
        """Tell the other replicas this dispatcher is alive (its claims stay its own)."""
        async with self.db.write() as s:
            await reminder_rows.heartbeat(s, self.owner, self.clock())

    async def start(self) -> None:
        """Fire what is overdue (after a restart, say), then keep watching. A single SQLite
        process first takes back every claim an earlier run of it left (it died: nobody
        else can hold one); replicas on PostgreSQL take over a silent one's claims once it
        has not beaten for TAKEOVER."""
        await self.beat()
        if self.db.is_sqlite:
            async with self.db.write() as s:
                released = await reminder_rows.release_claims_of_others(s, self.owner)
            if released:
                log.info("took back %d reminder claim(s) left by an earlier run", released)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self._kick, "interval", seconds=SAFETY_INTERVAL, id="safety",
                                max_instances=1, coalesce=True)
        # Its own job: a long run (Slack slow) must not look like a dead replica.
        self._scheduler.add_job(self._beat_quietly, "interval", seconds=SAFETY_INTERVAL,
                                id="heartbeat", max_instances=1, coalesce=True)
        self._scheduler.start()
        await self._kick()
        assert self._look is not None
        await asyncio.shield(self._look)  # what fell due while we were down, once

    async def _kick(self) -> None:
        """The scheduler's job: start a look unless one is running (then it looks again
        when done). It returns at once, so the scheduler never has a job of ours running:
        no run is cancelled by its shutdown, and no "maximum number of running instances"
        is ever reached."""
        if self._look is not None and not self._look.done():
            self._again = True
            return
        self._look = asyncio.get_running_loop().create_task(self._looks(), name="reminders")

    async def _looks(self) -> None:
        while True:
            self._again = False
            await self._tick()
            if not self._again:
                return

    async def _beat_quietly(self) -> None:
        try:
            await self.beat()
        except Exception as exc:
            self.db.outage.failed(exc, "reminder heartbeat")

    async def stop(self, within: float = 5.0) -> None:
        """Stop looking; a run in progress may finish within `within` seconds (shutdown's
        budget), then it is cancelled (its claims go back at the next start)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._look is not None and not self._look.done():
            self._again = False
            try:
                await asyncio.wait_for(asyncio.shield(self._look), within)
            except TimeoutError:
                log.warning("a reminder run was still going after %.0f s; stopping it", within)
                self._look.cancel()
                await asyncio.gather(self._look, return_exceptions=True)
        async with self._run_lock:  # a run started by hand (tests) finishes too
            pass
        try:  # a clean stop hands its (now closed) claims over at once
            async with self.db.write() as s:
                await reminder_rows.forget_dispatcher(s, self.owner)
        except Exception as exc:
            log.warning("could not remove this dispatcher's heartbeat: %s", exc)

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
                nxt = await reminder_rows.next_due(s)
        except Exception as exc:  # said once per outage, not once per tick
            self.db.outage.failed(exc, "reminder dispatch")
            return
        self.db.outage.ok()
        if self._poked:  # rows changed during this run: the poke's wake-up must stand
            self._wake_at(datetime.now(UTC))
        elif nxt is not None:
            # Due times are on the injected clock; wake-ups on the real one.
            self._wake_at(datetime.now(UTC) + max(nxt - self.clock(), timedelta(0)))

    def _wake_at(self, when: datetime) -> None:
        if self._scheduler is None:
            return
        # A wake-up that arrives mid-run makes that run look again (`_kick`): never dropped.
        self._scheduler.add_job(self._kick, "date", run_date=when, id="next",
                                replace_existing=True, misfire_grace_time=None)
