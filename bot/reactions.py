"""Every reaction to incident events, registered in one place. Each subscriber is delivered
its events on its own, retried on its own and parked on its own (bot.outbox):

- channel (role, severity, status, type, resolved): says it in the incident's channel.
- card (setup done and every change): the card and topic, from stored state.
- announcements (resolved): the resolution in the incidents channel (public incidents).
- home (as card): the App Home of the people concerned.
- checklists (status, type, resolved): the playbook's checklists for the phase reached.
- people (resolved): remembers the names of the incident's people.
- pages (page requested, resolved): sends the page; resolves or cancels every page.
- metrics (declared): counts the incident (and its detection time) in /metrics.
- alert-posts (alert triage): posts an alert for a person to decide.
- alert-changes (alert changes): what changed in an incident's alert group, coalesced,
  in its channel; asks the commander (or resolves, with auto_resolve) once all resolved.
"""

from __future__ import annotations

from bot.incidents import phases
from bot.incidents.events import Event, Kind
from bot.incidents.service import IncidentService
from bot.metrics import Metrics
from bot.outbox import Subscriber
from bot.paging.pager import Pager
from bot.slack.reactions import SlackReactions


def subscribers(service: IncidentService, slack: SlackReactions, pager: Pager | None,
                alerts: list[Subscriber], metrics: Metrics) -> list[Subscriber]:
    """`alerts`: the alert intake's subscribers (alert-posts, alert-changes), when alerts
    are on."""

    async def count(event: Event, attempt: int) -> None:
        inc = await service.incident_of(event)
        if inc is not None:
            metrics.incident_declared(inc)

    found = [*slack.subscribers(), *phases.subscribers(service),
             Subscriber("metrics", frozenset({Kind.DECLARED}), count, attempts=3)]
    if pager is not None:
        found.append(pager.subscriber())
    return found + alerts
