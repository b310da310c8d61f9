"""The running bot: everything it holds, built once at start by `bot.app.build`.

Kept apart from the wiring so that listeners (bot.slack.*) can name it without importing the
module that imports them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp

from bot.alerts.intake import AlertIntake
from bot.background import Background
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.incidents.service import IncidentService
from bot.metrics import Metrics
from bot.outbox import Relay
from bot.paging.pager import Pager
from bot.playbooks import Playbook
from bot.slack.blocks import Presenter
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.workspaces import Workspaces
from bot.store import reminder_rows
from bot.store.db import Database
from bot.web.health import Health

log = logging.getLogger(__name__)


@dataclass
class Foghorn:
    """Everything a running bot holds, built once at start."""

    settings: Settings
    playbook: Playbook
    db: Database
    gateway: SlackGateway
    presenter: Presenter
    service: IncidentService
    background: Background
    bolt: AsyncApp
    dispatcher: Dispatcher
    metrics: Metrics
    workspaces: Workspaces
    relay: Relay
    health: Health  # readiness, as /healthz reports it
    home: HomeTabs = field(init=False)
    alerts: AlertIntake | None = None  # with ALERTS_TOKEN (token mode only)
    pager: Pager | None = None  # with PAGERDUTY_KEYS or OPSGENIE_KEYS
    alerts_said: str = ""  # start-up's line about alerts (on, or why off)
    schedule: bool = True  # run the dispatcher's scheduler (tests drive it by hand)

    def scope(self, team_id: str | None) -> str | None:
        """The workspace a request's reads are limited to: its own when Foghorn serves
        several (OAuth installs); none in token mode, where there is one workspace (and, on
        Enterprise Grid, requests may carry the team of each person's own workspace)."""
        return (team_id or "") if self.workspaces.multi else None

    def serves(self, ids: dict[str, str]) -> bool:
        """Token mode: whether a request comes from the token's own workspace (on Enterprise
        Grid, its organisation), by what auth.test said at start-up: the request path never
        asks Slack. Until Slack has answered, the request is served: refusing every request
        while Slack has trouble would be worse."""
        team, enterprise = ids.get("team"), ids.get("enterprise")
        me = self.gateway.known_identity
        if (not team and not enterprise) or not me:
            return True
        home_team, home_org = me.get("team_id"), me.get("enterprise_id")
        return bool((team and team == home_team) or (enterprise and enterprise == home_org))

    async def slack(self, team_id: str | None) -> SlackGateway:
        """The gateway for a request's workspace (raises ChatError if it is not installed)."""
        return await self.workspaces.require(team_id or "")

    async def uninstalled(self, team_id: str) -> None:
        """A workspace removed Foghorn or revoked its token: forget the tokens and stop the
        reminders of its incidents (their rows and timelines stay, for the record)."""
        if not self.workspaces.multi:
            log.warning("Foghorn was uninstalled from workspace %s or its token was revoked; "
                        "it cannot act there until it is reinstalled", team_id)
            return
        await self.workspaces.uninstalled(team_id)
        async with self.db.write() as s:
            cancelled = await reminder_rows.cancel_team_reminders(s, team_id)
        log.info("workspace %s uninstalled: tokens removed, %d reminder(s) cancelled",
                 team_id, cancelled)
