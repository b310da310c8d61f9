"""What start-up asks Slack before serving: is the token good, do the channels and people the
playbook and settings name exist.

A token Slack refuses for good stops start-up with one line (exit 2): serving would only
answer every command with Bolt's "installation no longer available". A Slack that does not
answer at all does not stop start-up (an incident bot must start while Slack has its own
incident): `/healthz` says 503 until Slack has answered once, asked again with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError, Settings
from bot.incidents.errors import ChatError
from bot.playbooks import Playbook, PlaybookError, active_file, escalation_targets, is_pager
from bot.slack.gateway import SlackGateway

log = logging.getLogger(__name__)

# Answers that mean the token will never work: retrying cannot help.
REFUSED = {
    "invalid_auth": "Slack does not recognise it (invalid_auth)",
    "not_authed": "Slack received no token (not_authed)",
    "token_revoked": "it has been revoked (token_revoked): reinstall the app for a new one",
    "token_expired": "it has expired (token_expired)",
    "account_inactive": "its user or workspace is deactivated (account_inactive)",
    "not_allowed_token_type": "it is the wrong kind of token (not_allowed_token_type)",
    "missing_scope": "it lacks the scope this needs (missing_scope)",
}
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between asks while Slack does not answer


class StartupError(Exception):
    """Start-up cannot go on; the message is one line for the operator."""


def refused(setting: str, error: str) -> StartupError:
    return StartupError(f"{setting} was refused by Slack: {REFUSED.get(error, error)}")


async def check_token(gateway: SlackGateway, *, starting: bool = True) -> bool:
    """auth.test with the bot token: True once Slack has answered, False when it cannot be
    reached; StartupError when Slack refuses the token. `starting`: said by `foghorn run`
    (which starts anyway) rather than `foghorn check`."""
    try:
        await gateway.identity()
    except ChatError as exc:
        if exc.error in REFUSED:
            raise refused("SLACK_BOT_TOKEN", exc.error) from None
        if starting:
            log.warning("Slack did not answer auth.test (%s); starting anyway, /healthz "
                        "answers 503 until it does", exc.error)
        return False
    return True


async def check_app_token(settings: Settings) -> None:
    """Socket Mode: ask for a WebSocket URL with the app-level token once, so that a refused
    token is one line now rather than a retry loop with a traceback every 10 s."""
    client = AsyncWebClient(base_url=settings.SLACK_API_URL, timeout=15)
    try:
        await client.apps_connections_open(app_token=settings.SLACK_APP_TOKEN or "")
    except SlackApiError as exc:
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        error = str(data.get("error") or f"http_{exc.response.status_code}")
        if error in REFUSED:
            raise refused("SLACK_APP_TOKEN", error) from None
        log.warning("Slack did not open a Socket Mode connection yet (%s); retrying", error)
    except (OSError, TimeoutError) as exc:
        log.warning("Slack cannot be reached for Socket Mode (%s); retrying",
                    type(exc).__name__)


async def check_targets(gateway: SlackGateway, playbook: Playbook, source: Path,
                        incidents_channel: str) -> None:
    """Every escalation target and INCIDENTS_CHANNEL must exist: a PlaybookError or a
    ConfigError naming the first that does not. Only warn when Slack cannot say."""
    checked: set[str] = set()
    wanted = [("INCIDENTS_CHANNEL", _as_target(incidents_channel)),
              *escalation_targets(playbook)]
    for path, target in wanted:
        # Pagers are checked against the settings; role holders exist only in an incident.
        if target in checked or is_pager(target) or target.startswith("role:"):
            continue
        checked.add(target)
        try:
            exists = await gateway.target_exists(target)
        except ChatError as exc:
            log.warning("could not check that %s exists (Slack: %s); starting anyway",
                        target, exc.error)
            return
        if exists:
            continue
        if path == "INCIDENTS_CHANNEL":
            raise ConfigError(f"INCIDENTS_CHANNEL is invalid: {target} does not exist in this "
                              "workspace, or is private without Foghorn in it (create it, "
                              "invite Foghorn, or name another channel)")
        raise PlaybookError(f"{source}: {path}: {target} does not exist in this workspace")


def _as_target(channel: str) -> str:
    """INCIDENTS_CHANNEL as an escalation-style target: an ID as is, a name with '#'."""
    is_id = channel[:1] in ("C", "G") and channel[1:].isalnum() and channel.upper() == channel
    return channel if is_id else f"#{channel}"


async def wait_for_slack(gateway: SlackGateway, answered: Callable[[], None],
                         fatal: Callable[[StartupError], Awaitable[None]]) -> None:
    """Ask auth.test again, backing off, until Slack answers: then `answered()`. A refusal
    then is as fatal as at start-up."""
    delay = RETRY_FIRST
    while True:
        await asyncio.sleep(delay)
        try:
            if await check_token(gateway):
                log.info("Slack answered: ready")
                answered()
                return
        except StartupError as exc:
            await fatal(exc)
            return
        delay = min(delay * 2, RETRY_MAX)


def summary(settings: Settings, playbook: str, identity: dict[str, Any], multi: bool) -> str:
    """The start-up line an operator reads first: version, playbook, database (without its
    password) and schema, workspace, mode."""
    from bot.admin import version
    from bot.store.opening import head_revision, where

    if multi:
        workspace = "workspaces that install it (OAuth)"
    elif identity:
        workspace = f"workspace {identity.get('team')} ({identity.get('team_id')})"
    else:
        workspace = "workspace not known yet (Slack has not answered)"
    mode = "Socket Mode" if settings.socket_mode else "HTTP"
    return (f"foghorn {version()}: playbook {active_file(settings.playbooks_dir)} "
            f"({playbook}), database {where(settings.DATABASE_URL)} (schema "
            f"{head_revision()}), {workspace}, {mode}")
