"""The incident service: declare, assign roles, change severity, post updates, resolve.

Plain code with no Slack types: it decides, writes the database (each change, its timeline
entry and its events in one transaction); the reactions to the events are outbox subscribers
(bot.reactions), and what a part must say itself goes through its own narrow port
(bot.incidents.ports). Network calls are never made while a write transaction is open. Each
subject lives in its own module (declare, roles, updates, incident_types, checklists,
records, firing, pages, channel_changes) as a part of this class; what they share is in `base`.
"""

from __future__ import annotations

from bot.incidents.base import (
    ANYONE,
    NOT_HERE,
    ChatPort,
    DeclareRequest,
    DeclareResult,
    load_stats,
    retryable,
    visible_to,
)
from bot.incidents.channel_changes import ChannelChanges
from bot.incidents.checklists import Checklists
from bot.incidents.declare import Declaring
from bot.incidents.firing import Firing
from bot.incidents.incident_types import IncidentTypes
from bot.incidents.pages import Pages
from bot.incidents.records import Records
from bot.incidents.roles import Roles
from bot.incidents.updates import Updates

__all__ = ["ANYONE", "NOT_HERE", "ChatPort", "DeclareRequest", "DeclareResult",
           "IncidentService", "load_stats", "retryable", "visible_to"]


class IncidentService(Declaring, Roles, Updates, IncidentTypes, Checklists, Records, Firing,
                      Pages, ChannelChanges):
    """The whole service, as the edges and the dispatcher see it."""
