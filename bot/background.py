"""Work that runs after Slack has been acknowledged, tracked so shutdown can let it finish."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


RUNNING_LIMIT = 16


class Background:
    """At most RUNNING_LIMIT jobs run at once and the others wait their turn: a burst of
    declares must not fill the event loop with hundreds of half-done jobs, each step of which
    queues in front of the next request's ack. Jobs that cannot wait (opening a modal: the
    trigger_id expires after 3 s) pass `urgent=True` and start at once."""

    def __init__(self, limit: int = RUNNING_LIMIT) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._kept: set[asyncio.Task[Any]] = set()
        self._slots = asyncio.Semaphore(limit)

    def keep(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """A loop that runs as long as the bot does (the outbox's looks, the alert intake's
        retries): not waited for by `drain`, its failure logged like any job's, cancelled by
        `cancel_kept` (or by its owner) at shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._kept.add(task)
        task.add_done_callback(self._kept_done)
        return task

    def _kept_done(self, task: asyncio.Task[Any]) -> None:
        self._kept.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped", task.get_name(), exc_info=task.exception())

    async def cancel_kept(self) -> None:
        for task in list(self._kept):
            task.cancel()
        await asyncio.gather(*self._kept, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "work", *,
              urgent: bool = False) -> asyncio.Task[Any]:
        work = self._logged(coro, name)
        task = asyncio.get_running_loop().create_task(
            work if urgent else self._in_turn(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, Any], name: str) -> Any:
        """One log line when the job ends, carrying the ids it bound (the incident, once the
        job has found it) on top of those of the request that started it."""
        started = time.perf_counter()
        try:
            return await coro
        finally:
            took = (time.perf_counter() - started) * 1000
            log.info("%s finished in %.1f ms", name, took, extra={"job_ms": round(took, 2)})

    async def _in_turn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            await self._slots.acquire()
        except BaseException:
            coro.close()  # cancelled while waiting: it never started
            raise
        try:
            return await coro
        finally:
            self._slots.release()

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background %s failed", task.get_name(), exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        """Stop what is still running (at the end of shutdown: whatever an interrupted job
        left undone is stored, and the next start resumes it)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, within: float | None = None) -> bool:
        """Wait for all work (including work spawned meanwhile); True if everything finished."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while self._tasks:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=remaining)
        return True
