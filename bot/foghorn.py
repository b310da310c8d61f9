"""The running bot: everything it holds, built once at start by `bot.app.build` and not
changed after. Only the wiring (app, serve, demo, web.server) uses it: the Slack listeners
are handed an `Edge`, and each HTTP route module the few things it uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from bot.slack.edge import Edge
from bot.slack.gateway import SlackGateway
from bot.slack.workspaces import Workspaces
from bot.store.db import Database
from bot.web.health import Health

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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
    edge: Edge  # what the Slack listeners were handed
    alerts: AlertIntake | None = None  # with ALERTS_TOKEN (token mode only)
    pager: Pager | None = None  # with PAGERDUTY_KEYS or OPSGENIE_KEYS
    alerts_said: str = ""  # start-up's line about alerts (on, or why off)
    schedule: bool = True  # run the dispatcher's scheduler (tests drive it by hand)

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
