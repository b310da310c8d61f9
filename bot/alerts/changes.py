"""What changed in an incident's alert group, posted in its channel: the `alert-changes`
subscriber of ALERT_CHANGES events, which the intake records with each notification that
changes an incident's group (in the same transaction).

Changes are coalesced: a delivery waits COALESCE seconds, then takes in every later change
of the incident not yet posted, and posts them as one message tagged with all their events,
so a retry (after a crash, or an answer lost) finds the post instead of repeating it. When
every alert of the group has resolved, the Incident Commander is asked (or, with the route's
`auto_resolve`, the incident is resolved).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from bot.incidents.events import Event, Kind
from bot.incidents.model import Clock, Incident
from bot.incidents.service import IncidentService
from bot.outbox import Retry, Subscriber
from bot.store import alert_rows, outbox_rows
from bot.store.db import Database

log = logging.getLogger(__name__)

COALESCE = 2.0  # seconds: changes to one group within this are posted as one message
NAME = "alert-changes"


class ChangesChat(Protocol):
    async def alert_changes(self, inc: Incident, lines: list[str], all_resolved: bool,
                            auto_resolve: bool, *, events: list[int]) -> None: ...
    async def changes_posted(self, inc: Incident, event_id: int, since: datetime
                             ) -> bool: ...


class AlertChanges:
    def __init__(self, db: Database, service: IncidentService, chat: ChangesChat,
                 bot_user: Callable[[], Awaitable[str]], *, clock: Clock,
                 coalesce: float = COALESCE) -> None:
        self.db, self.service, self.chat, self.bot_user = db, service, chat, bot_user
        self.clock, self.coalesce = clock, coalesce

    def subscriber(self) -> Subscriber:
        return Subscriber(NAME, frozenset({Kind.ALERT_CHANGES}), self._post)

    async def _post(self, event: Event, attempt: int) -> None:
        inc = await self.service.incident_of(event)
        if inc is None:
            return
        if not inc.channel_id:  # an incident the alert declared: its channel comes first
            raise Retry("the incident's channel is not made yet", after=2.0)
        if attempt == 1:
            await asyncio.sleep(self.coalesce)  # let the changes arriving together join
        stream = f"incident:{inc.id}"
        async with self.db.read() as s:
            later = await outbox_rows.pending_after(s, NAME, stream, event.id)
            group = await alert_rows.group_of(s, inc.id)
        lines = [*event.data.get("lines", []), *(x for _, _, d in later for x in d["lines"])]
        covered = [event.id, *(e for _, e, _ in later)]
        states = dict(group.alerts) if group is not None else {}
        resolved = bool(states) and all(v == "resolved" for v in states.values())
        auto = any(d.get("auto") for d in (event.data, *(d for _, _, d in later)))
        current = await self.service.get(inc.id) or inc
        if attempt == 1 or not await self.chat.changes_posted(current, event.id,
                                                               event.occurred_at):
            await self.chat.alert_changes(current, lines, resolved, auto, events=covered)
        async with self.db.write() as s:
            await outbox_rows.absorb(s, [d for d, _, _ in later], self.clock())
        if resolved and auto and not current.is_resolved and current.channel_id:
            await self.service.resolve(current.channel_id, "Every alert of the group "
                                       "resolved (the route resolves on its own)",
                                       await self.bot_user(), confirmed=True)
