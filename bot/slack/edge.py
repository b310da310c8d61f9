"""What the Slack listeners (commands, actions, events, alert_actions, declaring) are
handed by the wiring: the few parts of the running bot they use, and nothing to change."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.alerts.intake import AlertIntake
from bot.background import Background
from bot.incidents.service import IncidentService
from bot.playbooks import Playbook
from bot.slack.blocks import Presenter
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.workspaces import Workspaces

log = logging.getLogger(__name__)


def scope_for(multi: bool, team_id: str | None) -> str | None:
    """The workspace a request's reads are limited to: its own when Foghorn serves several
    (OAuth installs); none in token mode, where there is one workspace (and, on Enterprise
    Grid, requests may carry the team of each person's own workspace)."""
    return (team_id or "") if multi else None


@dataclass(frozen=True)
class Edge:
    service: IncidentService
    presenter: Presenter
    playbook: Playbook
    background: Background  # where listeners put the work they do after the ack
    workspaces: Workspaces
    home: HomeTabs
    alerts: AlertIntake | None = None  # with alerts on

    def scope(self, team_id: str | None) -> str | None:
        return scope_for(self.workspaces.multi, team_id)

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
        cancelled = await self.service.cancel_team_reminders(team_id)
        log.info("workspace %s uninstalled: tokens removed, %d reminder(s) cancelled",
                 team_id, cancelled)
