"""The App Home tab: published when someone opens it, refreshed when incidents change.

A change refreshes the Home of the people involved in the incident (declarer and role
holders, and a role's previous holder) and of whoever opened their Home in the last
RECENT_VIEWERS window (at most MAX_VIEWERS of them, most recent first), since their list
of open incidents is now stale too. Changes that arrive while a workspace's refresh is
waiting for its turn in the background join it, so a burst of changes is published once:
the refresh reads the incidents once per workspace and publishes one view per person (each
filtered for what that person may see).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.background import Background
from bot.incidents.errors import ChatError
from bot.incidents.model import Incident
from bot.incidents.service import IncidentService, visible_to
from bot.slack.blocks import HOME_RESOLVED, Presenter
from bot.slack.gateway import SlackGateway
from bot.store import repo

log = logging.getLogger(__name__)

# views.publish is Tier 4 (about 100 calls a minute per workspace): a change refreshes the
# people involved plus at most this many recent viewers.
RECENT_VIEWERS = timedelta(hours=1)
MAX_VIEWERS = 20


class HomeTabs:
    def __init__(self, service: IncidentService, presenter: Presenter, background: Background,
                 gateway_for: Callable[[str], Awaitable[SlackGateway | None]],
                 scope: Callable[[str], str | None]) -> None:
        self.service = service
        self.present = presenter
        self.background = background
        self.gateway_for = gateway_for
        self.scope = scope  # team_id -> the team to read incidents of (None: all)
        self._waiting: dict[str, set[str]] = {}  # team -> users, for the next publish

    async def opened(self, team_id: str, user: str) -> None:
        """Someone opened the Home tab: remember them, and show it."""
        async with self.service.db.write() as s:
            await repo.home_opened(s, team_id, user, self.service.clock())
        await self.publish(team_id, {user})

    def incident_changed(self, inc: Incident, also: tuple[str | None, ...] = ()) -> None:
        """Refresh the Home of the people concerned, soon (changes coalesce)."""
        people = {inc.declared_by, *inc.roles.values(), *(u for u in also if u)}
        first = inc.team_id not in self._waiting
        self._waiting.setdefault(inc.team_id, set()).update(people)
        if first:
            self.background.spawn(self._refresh_later(inc.team_id), "refresh-home")

    async def _refresh_later(self, team_id: str) -> None:
        people = self._waiting.pop(team_id, set())
        async with self.service.db.read() as s:
            recent = await repo.home_viewers(s, team_id, self.service.clock() - RECENT_VIEWERS,
                                             MAX_VIEWERS)
        await self.publish(team_id, people | set(recent))

    async def publish(self, team_id: str, users: set[str]) -> None:
        gateway = await self.gateway_for(team_id)
        if gateway is None or not users:
            return  # the workspace uninstalled Foghorn meanwhile
        team = self.scope(team_id)
        everyone = await self.service.list_open(None, team, include_private=True)
        # Read more than are shown: some may be private to people other than the viewer.
        resolved = await self.service.recently_resolved(team, HOME_RESOLVED * 4)
        now = self.service.clock()
        for user in sorted(users):
            view = self.present.home(
                user, [i for i in everyone if visible_to(i, user)],
                [i for i in resolved if visible_to(i, user)][:HOME_RESOLVED], now)
            try:
                await gateway.publish_home(user, view)
            except ChatError as exc:
                log.warning("could not publish the App Home of %s: %s", user, exc)
