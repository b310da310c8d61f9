"""Slack's history methods at the pace Slack allows.

Since May 2025, apps distributed outside their own organisation without Marketplace approval
may call `conversations.history` and `conversations.replies` once a minute, 15 messages a
page. slack_sdk's retry handler would wait out each 429 inside the call, holding whatever
waits for it: a batch of reminders behind one "was this already posted?" check. Here each
history call instead waits its turn in the open: a caller with `patience` gives up with
`ratelimited` when its turn is further away than that (a reminder is then tried again
later, and does not hold up the others); callers without it (catch-up, in the background)
wait as long as it takes, after any caller with patience.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError

PACED = frozenset({"conversations.history", "conversations.replies"})
MAX_WAIT = 120.0  # seconds: a Retry-After beyond this is taken as this


class Ratelimited(Exception):
    """The caller's patience ran out before Slack would take the call."""


class Pacer:
    """When Slack takes each paced method next, learned from its Retry-After answers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._free_at: dict[str, float] = {}
        self._urgent = 0  # callers with patience waiting: they go first
        self._no_urgent = asyncio.Event()
        self._no_urgent.set()

    async def call(self, method: str, send: Callable[[], Awaitable[Any]], *,
                   patience: float | None) -> Any:
        """`send()` once Slack will take `method`, again after each 429 (waiting its
        Retry-After); `Ratelimited` when a wait would outlast `patience` seconds."""
        deadline = None if patience is None else self.clock() + patience
        if deadline is not None:
            self._urgent += 1
            self._no_urgent.clear()
        try:
            while True:
                if deadline is None:
                    await self._no_urgent.wait()
                wait = self._free_at.get(method, 0.0) - self.clock()
                if wait > 0:
                    if deadline is not None and self.clock() + wait > deadline:
                        raise Ratelimited(method)
                    await asyncio.sleep(wait)
                    continue
                try:
                    return await send()
                except SlackApiError as exc:
                    if exc.response.status_code != 429:
                        raise
                    after = _retry_after(exc.response.headers)
                    self._free_at[method] = self.clock() + after
        finally:
            if deadline is not None:
                self._urgent -= 1
                if not self._urgent:
                    self._no_urgent.set()


def _retry_after(headers: Any) -> float:
    value = None
    for key, found in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            value = found[0] if isinstance(found, list) else found
    try:
        return min(max(float(value), 0.0), MAX_WAIT) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
