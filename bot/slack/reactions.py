"""The Slack side's reactions to incident events, each a subscriber of its own (see
bot.reactions for the whole list): what the incident's channel is told, the card and topic,
the resolution in the incidents channel, and the App Home.

Each renders from the incident as stored now (the change is committed), with the event's own
facts where a message describes the change. A message an event makes carries the event's id
in its metadata, and a retry first looks for it, so nothing is said twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bot.incidents.events import CHANGES, Event, Kind
from bot.incidents.model import Incident
from bot.incidents.service import IncidentService
from bot.outbox import Retry, Subscriber
from bot.slack.blocks import Presenter
from bot.slack.home import HomeTabs
from bot.slack.publisher import CHANNEL, INCIDENTS

log = logging.getLogger(__name__)

SAID = frozenset({Kind.ROLE_CHANGED, Kind.SEVERITY_CHANGED, Kind.STATUS_UPDATED,
                  Kind.TYPE_CHANGED, Kind.RESOLVED})


class SlackReactions:
    """`chat`: the publisher (or, with OAuth installs, the per-workspace one)."""

    def __init__(self, service: IncidentService, presenter: Presenter, chat: Any,
                 home: HomeTabs) -> None:
        self.service, self.present, self.chat, self.home = service, presenter, chat, home

    def subscribers(self) -> list[Subscriber]:
        return [
            Subscriber("channel", SAID, self.tell_channel, tells=True),
            Subscriber("card", CHANGES, self.show_card, tells=True),
            Subscriber("announcements", frozenset({Kind.RESOLVED, Kind.CHANNEL_CHANGED}),
                       self.announce),
            Subscriber("home", CHANGES, self.refresh_home, attempts=3),
        ]

    async def _incident(self, event: Event) -> Incident | None:
        inc = await self.service.incident_of(event)
        if inc is None or not inc.channel_id:
            return None  # deleted, or its declare has not made the channel yet
        return inc

    async def _say_once(self, inc: Incident, event: Event, attempt: int, text: str, *,
                        where: str = CHANNEL) -> None:
        if attempt > 1 and await self.chat.said_for_event(inc, event.id, event.occurred_at,
                                                          where=where):
            return
        await self.chat.say_for_event(inc, event.id, text, where=where)

    async def tell_channel(self, event: Event, attempt: int) -> None:
        """What the change says in the incident's channel."""
        inc = await self._incident(event)
        if inc is None:
            return
        d = event.data
        match event.kind:
            case Kind.ROLE_CHANGED:
                await self.chat.brief(inc, d["role"], d["user"])
                text = self.present.role_change(inc, d["role"], d["user"], d["previous"],
                                                d["by"])
            case Kind.SEVERITY_CHANGED:
                text = self.present.severity_change(replace(inc, severity=d["new"]), d["old"],
                                                    d["by"])
            case Kind.STATUS_UPDATED:
                text = self.present.status_update(replace(inc, status=d["status"]),
                                                  d["message"], d["by"])
            case Kind.TYPE_CHANGED:
                await self.chat.type_extras(inc)
                text = self.present.type_changed(replace(inc, type=d["new"]), d["old"],
                                                 d["by"])
            case Kind.RESOLVED:
                text = self.present.resolution(inc)
            case _:
                return
        await self._say_once(inc, event, attempt, text)

    async def show_card(self, event: Event, attempt: int) -> None:
        """The card and topic from stored state. At SETUP_DONE the card was just posted
        from it; a change made before the card existed waits for it."""
        inc = await self._incident(event)
        if inc is None or event.kind == Kind.SETUP_DONE:
            return
        if inc.card_ts is None and not inc.setup_done:
            raise Retry("the incident's card is not posted yet", after=2.0)
        await self.chat.refresh_card(inc)

    async def announce(self, event: Event, attempt: int) -> None:
        """The resolution of a public incident in the incidents channel; an incident made
        private has its declaration there withdrawn to its label."""
        inc = await self._incident(event)
        if inc is not None and event.kind == Kind.CHANNEL_CHANGED:
            if event.data.get("is_private") is True and inc.is_private:
                await self.chat.withdraw_announcement(inc)
            return
        if inc is None or inc.is_private:
            return
        await self._say_once(inc, event, attempt, self.present.resolution(inc),
                             where=INCIDENTS)

    async def refresh_home(self, event: Event, attempt: int) -> None:
        inc = await self._incident(event)
        if inc is not None:  # coalesced with other changes of the workspace
            also = (event.data["previous"],) if event.kind == Kind.ROLE_CHANGED else ()
            self.home.incident_changed(inc, also)
