"""Whose request it is, by one rule for HTTP and Socket Mode alike.

A request's workspace and Enterprise Grid organisation are read as Bolt reads them (its
`extract_*` helpers): for events, the installation the event was delivered for
(`authorizations[0]`) before the envelope's `team_id`, which in a Slack Connect channel is
the partner's. Token mode serves one workspace (on Enterprise Grid, its organisation): a
request from anywhere else is acknowledged and does nothing, and a command says why. Every
request is acknowledged, handled or not (Slack retries what is not), and `app_rate_limited`
(Slack holding back events) is logged and counted.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.internals import (
    extract_enterprise_id,
    extract_is_enterprise_install,
    extract_team_id,
)
from slack_bolt.response import BoltResponse

from bot.metrics import Metrics
from bot.web.health import Health

log = logging.getLogger(__name__)

OTHER_WORKSPACE = ("This Foghorn belongs to another Slack workspace, so it did nothing here. "
                   "Ask your Slack admin to install Foghorn in this workspace.")


@dataclass(frozen=True)
class Origin:
    """The installation a request is for: workspace, organisation, org-wide install."""

    team_id: str = ""
    enterprise_id: str | None = None
    org_install: bool = False


def origin(body: dict[str, Any]) -> Origin:
    team = extract_team_id(body)
    return Origin(team_id=str(team or ""), enterprise_id=extract_enterprise_id(body) or None,
                  org_install=bool(extract_is_enterprise_install(body)))


def serves(identity: dict[str, Any], where: Origin) -> bool:
    """Token mode: whether a request is for the token's own workspace (on Enterprise Grid,
    its organisation), by what auth.test said (`identity`; empty until Slack has answered,
    when every request is served: refusing all while Slack has trouble would be worse)."""
    if not identity or (not where.team_id and not where.enterprise_id):
        return True
    home_team, home_org = identity.get("team_id"), identity.get("enterprise_id")
    return bool((where.team_id and where.team_id == home_team)
                or (where.enterprise_id and where.enterprise_id == home_org))


def register(bolt: AsyncApp, *, identity: Callable[[], dict[str, Any]] | None,
             metrics: Metrics, health: Health, on_rate_limited: Callable[[], object],
             learn: Callable[[str, str | None], None] | None = None) -> None:
    """The global middleware and the unhandled-request answer. `identity`: token mode's
    auth.test answer (None with OAuth installs, where Bolt's authorize finds each
    installation); `on_rate_limited`: fetch from history what Slack did not deliver;
    `learn`: told each request's workspace and organisation (OAuth installs)."""

    async def first(body: dict[str, Any], next: Callable[[], Awaitable[None]]
                    ) -> BoltResponse | None:
        if body.get("type") == "app_rate_limited":
            metrics.app_rate_limited.inc()
            log.warning("Slack is holding back events of workspace %s (over 30,000 an hour) "
                        "from the minute starting %s; catch-up fetches what was missed",
                        body.get("team_id"), body.get("minute_rate_limited"))
            on_rate_limited()
            return BoltResponse(status=200, body="")
        where = origin(body)
        if learn is not None:
            learn(where.team_id, where.enterprise_id)
        if identity is not None and not serves(identity(), where):
            health.rejected_requests += 1
            metrics.rejected.labels("other_workspace").inc()
            kind = "command" if "command" in body else str(body.get("type") or "request")
            log.warning("refused a %s from another workspace (this token serves one "
                        "workspace)", kind)
            if kind == "command":
                return BoltResponse(status=200, body=json.dumps(
                    {"response_type": "ephemeral", "text": OTHER_WORKSPACE}),
                    headers={"content-type": "application/json;charset=utf-8"})
            return BoltResponse(status=200, body="")
        await next()
        return None

    bolt.middleware(first)

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        if isinstance(error, BoltUnhandledRequestError):
            # An old button, an event no listener wants: acknowledged, or Slack sends it
            # again (over HTTP a 404; over Socket Mode no ack at all).
            log.debug("unhandled %s acknowledged", body.get("type"))
            return BoltResponse(status=200, body="")
        log.error("listener failed: %s", error, exc_info=error)
        return None
