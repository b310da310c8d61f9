"""The fake Slack's OAuth: workspaces that install the app, the authorize page, and
`oauth.v2.access` answering in Slack's documented shape. A mixin of FakeSlack."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.testing.method_base import MethodBase
from bot.testing.slack_world import BOT_USER_ID, TEAM_ID, SlackError


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

    def add_team(self, team_id: str, name: str, *, org: tuple[str, str] | None = None
                 ) -> None:
        """Another workspace, with its own #incidents channel; `org`: the (id, name) of the
        Enterprise Grid organisation it belongs to."""
        self.teams[team_id] = name
        if org is not None:
            self.orgs[org[0]] = org[1]
            self.team_orgs[team_id] = org[0]
        self.add_channel("incidents", channel_id=f"C0INC{team_id}", members=set(), team=team_id)

    def approve_install(self, team_id: str, installer: str, scopes: str | None = None) -> str:
        """Someone approves the app's install into `team_id` (a workspace, or an Enterprise
        Grid organisation's id for an org-wide install) on Slack's authorize page: the code
        Slack hands to the app's redirect URL. The token it buys has the scopes the app asked
        for (`scopes`, comma-separated; by default the manifest's)."""
        code = f"code-{team_id}-{next(self._ids)}"
        asked = ",".join(sorted(self.scopes or ())) if scopes is None else scopes
        self._oauth_codes[code] = (team_id, installer, asked)
        return code

    async def _oauth_authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page, approved at once by `installer` for `team` (query
        parameters the test adds, standing in for the person's choice; an organisation's id
        installs org-wide): redirects to the app's Redirect URL with a code and the state it
        was given."""
        q = request.query
        if self.oauth_client is None or q.get("client_id") != self.oauth_client[0]:
            return web.Response(status=400, text="invalid_client_id")
        if q.get("team") not in self.teams and q.get("team") not in self.orgs:
            return web.Response(status=400, text="unknown team")
        code = self.approve_install(q["team"], q.get("installer", "UINSTALLER"),
                                    q.get("scope", ""))
        raise web.HTTPFound(f"{self.oauth_redirect_url}?code={code}&state={q.get('state', '')}")

    def m_oauth_v2_access(self, args: dict[str, Any]) -> dict[str, Any]:
        """The token exchange, answered in Slack's shape for each kind of install: a plain
        workspace (`enterprise: null`), a workspace of an Enterprise Grid organisation (both
        `team` and `enterprise`), and an org-wide install (`team: null`,
        `is_enterprise_install: true`; its token acts in every workspace of the org)."""
        if self.oauth_client is None or args.get("client_id") != self.oauth_client[0]:
            raise SlackError("invalid_client_id")
        if args.get("client_secret") != self.oauth_client[1]:
            raise SlackError("bad_client_secret")
        found = self._oauth_codes.pop(str(args.get("code") or ""), None)
        if found is None:
            raise SlackError("invalid_code")
        where, installer, scope = found
        token = f"xoxb-{where.lower()}-{next(self._ids)}"
        org_wide = where in self.orgs
        org = where if org_wide else self.team_orgs.get(where)
        if org_wide:
            self.token_orgs[token] = where
        else:
            self.token_teams[token] = where
        if self.scopes is not None:
            self.token_scopes[token] = frozenset(s for s in scope.split(",") if s)
        return {"access_token": token, "token_type": "bot",
                "scope": scope, "bot_user_id": BOT_USER_ID, "app_id": "A0FOGHORN",
                "team": None if org_wide else {"id": where, "name": self.teams[where]},
                "enterprise": {"id": org, "name": self.orgs[org]} if org else None,
                "is_enterprise_install": org_wide,
                "authed_user": {"id": installer}}

    def token_team(self, token: str, args: dict[str, Any]) -> str:
        """The workspace a call acts in: the token's own; for an org-wide token, the
        `team_id` argument or the workspace of the channel named (org tokens must say which
        workspace, as Slack requires of conversations.create and conversations.list)."""
        org = self.token_orgs.get(token)
        if org is None:
            return self.token_teams.get(token, TEAM_ID)
        team = str(args.get("team_id") or "")
        if not team:
            ref = str(args.get("channel") or args.get("channel_id") or "")
            ch = self.channels.get(ref)
            team = ch.team if ch is not None else ""
        if team and self.team_orgs.get(team) != org:
            raise SlackError("invalid_team" if args.get("team_id") else "channel_not_found")
        return team

    def uninstall(self, team_id: str) -> None:
        """The workspace (or, given an organisation's id, the org-wide install) removes the
        app: its tokens stop working."""
        self.revoked |= {t for t, team in self.token_teams.items() if team == team_id}
        self.revoked |= {t for t, org in self.token_orgs.items() if org == team_id}
