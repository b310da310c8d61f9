"""The database being away, said once per change of state rather than once per attempt.

Every loop that touches the database on its own (the reminder dispatcher, the outbox relay,
the alert intake, /healthz, /metrics) reports its failures and successes to one `Outage`:
the first failure is a warning with its reason, a failure while down is counted and said
again once a minute ("still down, N failed attempts"), and the first success after that says
it is back and for how long it was away. No traceback: the reason is the driver's own first
line, in the operator's words (`store.opening.explain`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("bot.store")

REPEAT_EVERY = 60.0  # seconds between "still down" lines


class Outage:
    def __init__(self, what: str, timeout: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.timeout = timeout
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0
        self._said_at = 0.0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def _why(self, exc: BaseException) -> str:
        """The operator's words, then the driver's own first line when it says more."""
        from bot.store.opening import explain

        friendly = explain(exc, self.timeout)
        cause: BaseException = getattr(exc, "orig", None) or exc
        raw = " ".join(str(cause).split()).split(" [SQL:")[0][:200]
        return f"{friendly} ({raw})" if raw and raw not in friendly else friendly

    def failed(self, exc: BaseException, during: str) -> None:
        now = self.clock()
        self.failures += 1
        if self.down_since is None:
            self.down_since, self._said_at, self.failures = now, now, 1
            log.warning("%s is not answering (%s): %s", self.what, during, self._why(exc))
        elif now - self._said_at >= REPEAT_EVERY:
            self._said_at = now
            log.warning("%s is still not answering after %.0f s (%d failed attempts): %s",
                        self.what, now - self.down_since, self.failures, self._why(exc))

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning("%s is answering again after %.0f s (%d failed attempts)", self.what,
                        self.clock() - self.down_since, self.failures)
            self.down_since, self.failures = None, 0
