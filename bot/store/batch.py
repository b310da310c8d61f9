"""Group commit: writes that arrive while one is under way share the next transaction.

Slack waits for a message event or a declare to be stored before it gets its answer, and on
SQLite every transaction takes the one write turn and a round trip through the event loop.
Under load those round trips, not the writing, are the cost; doing the waiting writes
together pays for one. Each caller still returns only once its own write is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from bot.store.db import Database

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Queued(Generic[Item, Result]):
    item: Item
    done: asyncio.Future[Result]


class GroupWriter(Generic[Item, Result]):
    """`submit(item)` stores `item` through `write_many(session, items) -> results` (plain
    synchronous SQLAlchemy, one result per item, in order), together with whatever else was
    submitted meanwhile, at most `limit` at a time."""

    def __init__(self, db: Database, write_many: Callable[[Session, list[Item]], list[Result]],
                 *, name: str, limit: int = 200) -> None:
        self.db = db
        self.write_many = write_many
        self.name = name
        self.limit = limit
        self._queue: list[_Queued[Item, Result]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(item, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name=f"{self.name}-flush")
        return await done

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.limit], self._queue[self.limit:]
            try:
                await self._write_batch(batch)
            except Exception:
                log.exception("%s: a group write went wrong", self.name)
            finally:  # whatever stopped this batch, nobody is left waiting for it
                for q in batch:
                    _settle(q.done, RuntimeError(f"{self.name}: the group write stopped"))

    async def _write_batch(self, batch: list[_Queued[Item, Result]]) -> None:
        try:
            results = await self._write([q.item for q in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].done, exc)
                return
            # One bad item must not fail the others: write them one by one.
            log.warning("%s: writing %d together failed (%s); one at a time", self.name,
                        len(batch), exc)
            for q in batch:
                try:
                    _settle(q.done, (await self._write([q.item]))[0])
                except Exception as one_exc:
                    _settle(q.done, one_exc)
            return
        for q, result in zip(batch, results, strict=True):
            _settle(q.done, result)

    async def _write(self, items: list[Item]) -> list[Result]:
        """One group write, bounded in time: a database that stops answering fails this
        batch's callers (Slack will deliver their events again) instead of holding every
        later batch behind it."""
        try:
            async with asyncio.timeout(2 * self.db.timeout):
                return await self.db.write_sync(lambda s: self.write_many(s, items),
                                                urgent=True)
        except TimeoutError as exc:
            # Cut short from out here, the write itself saw only a cancellation: say that
            # the database is failing, so /healthz turns red and recovery is noticed.
            self.db.health.finished(self.db.health.started(), exc)
            raise


def _settle(done: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if done.done():  # the caller gave up waiting (its request was cancelled)
        return
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
