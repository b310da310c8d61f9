"""The fake Slack's OAuth: workspaces that install the app, the authorize page, and
`oauth.v2.access` answering in Slack's documented shape. A mixin of FakeSlack."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.testing.method_base import MethodBase
from bot.testing.slack_world import BOT_USER_ID, SlackError


class FakeOAuth(MethodBase):
    """Installs: `approve_install` (as a person approving on Slack's page), the authorize
    redirect, the code exchange, and `uninstall`."""

    scopes: frozenset[str] | None
    token_scopes: dict[str, frozenset[str]]
    token_teams: dict[str, str]
    revoked: set[str]
    oauth_client: tuple[str, str] | None
    oauth_redirect_url: str
    _oauth_codes: dict[str, tuple[str, str, str]]

    def add_team(self, team_id: str, name: str) -> None:
        """Another workspace, with its own #incidents channel."""
        self.teams[team_id] = name
        self.add_channel("incidents", channel_id=f"C0INC{team_id}", members=set(), team=team_id)

    def approve_install(self, team_id: str, installer: str, scopes: str | None = None) -> str:
        """Someone approves the app's install into `team_id` on Slack's authorize page:
        the code Slack hands to the app's redirect URL. The token it buys has the scopes the
        app asked for (`scopes`, comma-separated; by default the manifest's)."""
        code = f"code-{team_id}-{next(self._ids)}"
        asked = ",".join(sorted(self.scopes or ())) if scopes is None else scopes
        self._oauth_codes[code] = (team_id, installer, asked)
        return code

    async def _oauth_authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page, approved at once by `installer` for `team` (query
        parameters the test adds, standing in for the person's choice): redirects to the
        app's Redirect URL with a code and the state it was given."""
        q = request.query
        if self.oauth_client is None or q.get("client_id") != self.oauth_client[0]:
            return web.Response(status=400, text="invalid_client_id")
        if q.get("team") not in self.teams:
            return web.Response(status=400, text="unknown team")
        code = self.approve_install(q["team"], q.get("installer", "UINSTALLER"),
                                    q.get("scope", ""))
        raise web.HTTPFound(f"{self.oauth_redirect_url}?code={code}&state={q.get('state', '')}")

    def m_oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.oauth_client is None or args.get("client_id") != self.oauth_client[0]:
            raise SlackError("invalid_client_id")
        if args.get("client_secret") != self.oauth_client[1]:
            raise SlackError("bad_client_secret")
        found = self._oauth_codes.pop(str(args.get("code") or ""), None)
        if found is None:
            raise SlackError("invalid_code")
        team, installer, scope = found
        token = f"xoxb-{team.lower()}-{next(self._ids)}"
        self.token_teams[token] = team
        if self.scopes is not None:
            self.token_scopes[token] = frozenset(s for s in scope.split(",") if s)
        return {"access_token": token, "token_type": "bot",
                "scope": scope, "bot_user_id": BOT_USER_ID,
                "app_id": "A0FOGHORN", "team": {"id": team, "name": self.teams[team]},
                "enterprise": None, "is_enterprise_install": False,
                "authed_user": {"id": installer}}

    def uninstall(self, team_id: str) -> None:
        """The workspace removes the app: its tokens stop working."""
        self.revoked |= {t for t, team in self.token_teams.items() if team == team_id}
