"""The domain's own reactions to incident events (subscribers, see bot.reactions): the
playbook's checklists for the phase an incident enters, and remembering its people's names
at resolve. Each runs, and is retried, on its own."""

from __future__ import annotations

from bot.incidents.events import Event, Kind
from bot.incidents.model import RESOLVED
from bot.incidents.service import IncidentService
from bot.outbox import Subscriber


def subscribers(service: IncidentService) -> list[Subscriber]:
    async def checklists(event: Event, attempt: int) -> None:
        inc = await service.incident_of(event)
        if inc is None or not inc.channel_id:
            return
        d = event.data
        if event.kind == Kind.STATUS_UPDATED and d["status"] != d["previous"]:
            await service.post_checklists(inc, d["status"])
        elif event.kind == Kind.RESOLVED:
            await service.post_checklists(inc, RESOLVED)
        elif event.kind == Kind.TYPE_CHANGED:
            # The new type's own checklists for the phases already reached.
            await service.post_checklists(inc, "declare")
            if inc.status not in (service.playbook.initial_status.id, RESOLVED):
                await service.post_checklists(inc, inc.status)

    async def people(event: Event, attempt: int) -> None:
        inc = await service.incident_of(event)
        if inc is not None:
            await service.remember_people(inc)

    return [
        Subscriber("checklists", frozenset({Kind.STATUS_UPDATED, Kind.RESOLVED,
                                            Kind.TYPE_CHANGED}), checklists, tells=True),
        Subscriber("people", frozenset({Kind.RESOLVED}), people, attempts=5),
    ]
