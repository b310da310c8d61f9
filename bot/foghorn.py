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
