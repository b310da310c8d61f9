"""Whether the database is taking writes: what `/healthz` reports and what starts a catch-up.

Every write transaction reports how it ended. Writes failing (a full disk, a lost server) or
one write running far longer than any should (a connection that stopped answering) make the
database unhealthy; the first success after failures makes it healthy again and calls
`on_recovered`, so that what Slack sent meanwhile (answered 500, perhaps never retried) is
fetched from Slack's history.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class WriteHealth:
    def __init__(self, stuck_after: float) -> None:
        self.stuck_after = stuck_after
        self.failing_since: float | None = None
        self.last_error = ""
        self._running: dict[int, float] = {}
        self._ids = itertools.count()
        self.on_recovered: Callable[[], None] = lambda: None

    def started(self) -> int:
        token = next(self._ids)
        self._running[token] = time.monotonic()
        return token

    def finished(self, token: int, error: BaseException | None = None) -> None:
        self._running.pop(token, None)
        if error is None:
            if self.failing_since is not None:
                log.warning("database writes work again after %.0f s",
                            time.monotonic() - self.failing_since)
                self.failing_since = None
                self.on_recovered()
            return
        self.last_error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}" \
            if str(error) else type(error).__name__
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            log.error("database writes are failing: %s", self.last_error)

    def problem(self) -> str | None:
        """What is wrong with writing (for the log), or None when writes work."""
        now = time.monotonic()
        if self.failing_since is not None:
            return f"writes failing for {now - self.failing_since:.0f} s ({self.last_error})"
        oldest = min(self._running.values(), default=now)
        if now - oldest > self.stuck_after:
            return f"a write has been running for {now - oldest:.0f} s"
        return None
