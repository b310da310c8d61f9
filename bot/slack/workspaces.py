"""Which workspace a Slack call is for, and with which token.

Token mode (`SLACK_BOT_TOKEN`): one workspace, one gateway. OAuth mode (`SLACK_CLIENT_ID` and
`SLACK_CLIENT_SECRET`): any number of workspaces install Foghorn through Bolt's OAuth flow
(`/slack/install`, `/slack/oauth_redirect`); slack_sdk's SQLAlchemy installation and state
stores keep their tokens in Foghorn's own database, and each workspace gets its own gateway
(cached; all share one HTTP connection pool). Every incident row carries its `team_id`, and
the incident service talks to Slack through `PerWorkspaceChat`, which picks the publisher of
the incident's workspace, so one workspace's incidents are never shown in, or posted to,
another.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

from bot.config import Settings
from bot.incidents.errors import ChatError
from bot.incidents.model import Incident
from bot.metrics import Metrics
from bot.slack.gateway import SlackGateway, make_client
from bot.store import install_rows
from bot.store.db import Database
from bot.store.tables import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRES = 600  # seconds an install link stays valid
# The bot scopes in manifest.yml (tests/test_manifest.py keeps the two the same).
BOT_SCOPES = (
    "commands", "chat:write", "channels:manage", "groups:write", "channels:read",
    "groups:read", "channels:join", "pins:write", "channels:history", "groups:history",
    "reactions:read", "pins:read", "files:write", "users:read", "usergroups:read",
    "bookmarks:write", "bookmarks:read",
)
_FAILURES = {
    "invalid_browser": "this install did not start in this browser, or its link is stale",
    "invalid_state": "the install link has expired or was already used",
    "missing_code": "Slack did not send an authorization code",
    "invalid_code": "Slack did not accept the authorization code (it may have been used "
                    "already)",
    "access_denied": "the install was cancelled on Slack's page",
    "storage_error": "Foghorn could not store the installation",
}


class Workspaces:
    """The gateway for each workspace Foghorn serves."""

    def __init__(self, settings: Settings, metrics: Metrics, default: SlackGateway,
                 store: AsyncInstallationStore | None, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._orgs: dict[str, str] = {}  # workspace -> its Enterprise Grid organisation
        self.metrics = metrics
        self.default = default  # token mode's gateway (in OAuth mode: no token, for Bolt)
        self.store = store
        self._gateways: dict[str, SlackGateway] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def multi(self) -> bool:
        return self.store is not None

    async def gateway(self, team_id: str, enterprise_id: str | None = None
                      ) -> SlackGateway | None:
        """The gateway for workspace `team_id` (of Enterprise Grid organisation
        `enterprise_id`, if it has one); None when it has no installation. Installations
        are looked up as Bolt stores them: by (organisation, workspace), then the
        organisation's org-wide install. Without the organisation (older incidents), the
        workspace's own installation is found by its team alone."""
        if self.store is None:
            return self.default
        if enterprise_id is None:
            enterprise_id = self._orgs.get(team_id)
        found = self._gateways.get(team_id)
        if found is not None:
            return found
        if enterprise_id is None:
            async with self.db.read() as s:
                enterprise_id = await install_rows.organisation_of(
                    s, self.settings.SLACK_CLIENT_ID or "", team_id)
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        org_wide = False
        if (bot is None or not bot.bot_token) and enterprise_id:
            bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=None,
                                                  is_enterprise_install=True)
            org_wide = True
        if bot is None or not bot.bot_token:
            return None
        if enterprise_id:
            self._orgs[team_id] = enterprise_id
        if self._session is None:
            self._session = aiohttp.ClientSession()
        client = make_client(bot.bot_token, self.settings.SLACK_API_URL, session=self._session,
                             metrics=self.metrics)
        gateway = self._gateways[team_id] = SlackGateway(
            client, self.metrics, org_team=team_id if org_wide else None)
        return gateway

    def learn(self, team_id: str, enterprise_id: str | None) -> None:
        """A request showed which organisation a workspace belongs to (an org-wide install
        is found through it)."""
        if team_id and enterprise_id and self._orgs.get(team_id) != enterprise_id:
            self._orgs[team_id] = enterprise_id
            self._gateways.pop(team_id, None)

    async def require(self, team_id: str, enterprise_id: str | None = None) -> SlackGateway:
        gateway = await self.gateway(team_id, enterprise_id)
        if gateway is None:
            raise ChatError("workspace", "not_installed")
        return gateway

    async def uninstalled(self, team_id: str, enterprise_id: str | None = None, *,
                          org_wide: bool = False) -> None:
        """The workspace (or, `org_wide`, the organisation's org-wide install) removed
        Foghorn or revoked its token: forget its tokens, as stored by (organisation,
        workspace)."""
        if enterprise_id is None:
            enterprise_id = self._orgs.get(team_id)
        if org_wide and enterprise_id:
            for team in [t for t, org in self._orgs.items() if org == enterprise_id]:
                self._gateways.pop(team, None)
        self._gateways.pop(team_id, None)
        if self.store is not None:
            await self.store.async_delete_all(enterprise_id=enterprise_id,
                                              team_id=None if org_wide else team_id)

    async def close(self) -> None:
        await self.default.close()
        if self._session is not None:
            await self._session.close()


def token_authorize(gateway: SlackGateway) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Bolt's authorization in token mode, from what auth.test said at start-up (the bot
    token is Foghorn's own): no Slack call on the request path, so a request is stored and
    answered whether Slack is up or not. Before Slack has ever answered, the request's own
    team stands in and the bot's ids are unknown."""

    async def authorize(enterprise_id: str | None, team_id: str | None,
                        user_id: str | None) -> AuthorizeResult:
        me = gateway.known_identity
        return AuthorizeResult(
            enterprise_id=me.get("enterprise_id") or enterprise_id,
            team_id=me.get("team_id") or team_id, user_id=user_id,
            bot_user_id=me.get("user_id"), bot_id=me.get("bot_id"),
            bot_token=gateway.client.token)

    return authorize


class PerWorkspaceChat:
    """The service's chat port in OAuth mode: each call goes to the publisher of the
    incident's workspace (every ChatPort method takes the incident first)."""

    def __init__(self, workspaces: Workspaces,
                 make_publisher: Callable[[SlackGateway], Any]) -> None:
        self._workspaces = workspaces
        self._make = make_publisher
        self._publishers: dict[int, Any] = {}  # by id() of the gateway they use

    async def _publisher(self, team_id: str, enterprise_id: str | None) -> Any:
        gateway = await self._workspaces.require(team_id, enterprise_id)
        found = self._publishers.get(id(gateway))
        if found is None or found.gateway is not gateway:
            found = self._publishers[id(gateway)] = self._make(gateway)
        return found

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(inc: Incident, *args: Any, **kwargs: Any) -> Any:
            publisher = await self._publisher(inc.team_id, inc.enterprise_id)
            return await getattr(publisher, name)(inc, *args, **kwargs)

        call.__name__ = name
        return call


def installation_store(settings: Settings, db: Database) -> AsyncSQLAlchemyInstallationStore:
    assert settings.SLACK_CLIENT_ID is not None
    return AsyncSQLAlchemyInstallationStore(
        client_id=settings.SLACK_CLIENT_ID, engine=db.engine,
        bots_table_name=BOTS_TABLE, installations_table_name=INSTALLATIONS_TABLE)


def oauth_settings(settings: Settings, db: Database,
                   store: AsyncInstallationStore) -> AsyncOAuthSettings:
    """Bolt's OAuth flow on Foghorn's database, with clear failure pages."""
    return AsyncOAuthSettings(
        client_id=settings.SLACK_CLIENT_ID,
        client_secret=settings.SLACK_CLIENT_SECRET,
        scopes=list(BOT_SCOPES),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(settings.SLACK_API_URL),
        installation_store=store,
        state_store=AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRES, engine=db.engine, table_name=OAUTH_STATES_TABLE),
        state_expiration_seconds=STATE_EXPIRES,
        callback_options=AsyncCallbackOptions(success=_success_page, failure=_failure_page),
    )


def authorize_url(api_url: str) -> str:
    """Slack's authorize page beside its Web API: https://slack.com/api/ gives
    https://slack.com/oauth/v2/authorize (and the same for GovSlack or a test server)."""
    base = api_url.removesuffix("/").removesuffix("/api")
    return f"{base}/oauth/v2/authorize"


async def _success_page(args: AsyncSuccessArgs) -> BoltResponse:
    installation = args.installation
    log.info("installed into workspace %s (%s)", installation.team_id, installation.team_name)
    return await args.default.success(args)


async def _failure_page(args: AsyncFailureArgs) -> BoltResponse:
    reason = _FAILURES.get(args.reason, f"Slack reported: {args.reason}")
    log.warning("an install failed: %s", args.reason)
    page = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Foghorn: install failed"
        "</title></head><body><h1>Foghorn was not installed</h1>"
        f"<p>The install could not finish: {html.escape(reason)}. Nothing was stored.</p>"
        f"<p><a href=\"{INSTALL_PATH}\">Start the install again</a>.</p></body></html>")
    return BoltResponse(status=args.suggested_status_code, body=page,
                        headers={"Content-Type": "text/html; charset=utf-8"})
