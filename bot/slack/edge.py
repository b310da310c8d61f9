"""What the Slack listeners (commands, actions, events, alert_actions, declaring) are
handed by the wiring: the few parts of the running bot they use, and nothing to change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.alerts.intake import AlertIntake
from bot.background import Background
from bot.incidents.service import IncidentService
from bot.playbooks import Playbook
from bot.slack.blocks import Presenter
from bot.slack.gateway import SlackGateway
from bot.slack.home import HomeTabs
from bot.slack.tenancy import origin
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

    def organisation(self, body: dict[str, Any]) -> tuple[str, str | None] | None:
        """With OAuth installs, the request's (workspace, organisation), which must be the
        incident's own (a Slack Connect channel may hold another organisation's people and
        Foghorn); None in token mode, which serves one workspace."""
        if not self.workspaces.multi:
            return None
        where = origin(body)
        return where.team_id, where.enterprise_id

    async def slack(self, body: dict[str, Any]) -> SlackGateway:
        """The gateway for a request's installation (raises ChatError if it has none)."""
        where = origin(body)
        return await self.workspaces.require(where.team_id, where.enterprise_id)

    async def uninstalled(self, body: dict[str, Any]) -> None:
        """A workspace (or an organisation's org-wide install) removed Foghorn or revoked its
        token: forget the tokens and stop the reminders of its incidents (their rows and
        timelines stay, for the record)."""
        where = origin(body)
        if not self.workspaces.multi:
            log.warning("Foghorn was uninstalled from workspace %s or its token was revoked; "
                        "it cannot act there until it is reinstalled", where.team_id)
            return
        await self.workspaces.uninstalled(where.team_id, where.enterprise_id,
                                          org_wide=where.org_install)
        cancelled = await self.service.cancel_team_reminders(where.team_id)
        log.info("workspace %s uninstalled: tokens removed, %d reminder(s) cancelled",
                 where.team_id or where.enterprise_id, cancelled)
