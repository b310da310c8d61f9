"""A fake Slack Web API on aiohttp, for tests, the offline demo and benchmarks.

The real slack_sdk `AsyncWebClient` talks to it through `SLACK_API_URL`. It answers as Slack
does: `{"ok": ..., "error": ...}` JSON envelopes with the documented error codes, arguments
taken from the query string, a form body or a JSON body, GET or POST. It keeps channels,
members, messages, pins, topics and views; records every call; serves `response_url`
endpoints; and can be told to answer a method with 429 + `Retry-After`, a 5xx, or slowly.

Control endpoints (for other processes, e.g. benchmarks): `POST /_fake/fault`,
`POST /_fake/delay`, `GET /_fake/calls`.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import random
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from bot.testing import scopes as scopes_of
from bot.testing.fake_oauth import FakeOAuth
from bot.testing.fake_socket import FakeSocketMode
from bot.testing.fake_urls import FakeUrls
from bot.testing.slack_methods import SlackMethods, _json
from bot.testing.slack_world import (
    BOT_ID,
    BOT_USER_ID,
    INCIDENTS_CHANNEL_ID,
    TEAM_ID,
    TOMBSTONE_TEXT,
    Call,
    Channel,
    Fault,
    Message,
    SlackError,
)

__all__ = ["BOT_ID", "BOT_USER_ID", "INCIDENTS_CHANNEL_ID", "TEAM_ID", "TOMBSTONE_TEXT",
           "Call", "Channel", "FakeSlack", "Fault", "Message", "SlackError"]


HISTORY_METHODS = frozenset({"conversations.history", "conversations.replies"})
# Methods an org-wide token may call only with a `team_id` (Slack's method reference).
ORG_TOKEN_NEEDS_TEAM = frozenset({"conversations.create", "conversations.list",
                                  "usergroups.list"})


class FakeSlack(SlackMethods, FakeOAuth, FakeSocketMode, FakeUrls):
    """State plus an aiohttp application. Use `await fake.start()` / `await fake.stop()`."""

    def __init__(self, *, tokens: set[str] | None = None,
                 clock: Callable[[], float] = time.time, strict: bool = True,
                 scopes: frozenset[str] | Literal["manifest"] | None = "manifest") -> None:
        self.tokens = tokens  # None: any xoxb-/xapp- token is accepted
        # Strict (the default): Block Kit is checked as Slack checks it, and a call needing a
        # scope the token lacks is refused. Every refusal Slack would make is kept in
        # `refusals`, so a test can assert the bot made none.
        self.strict = strict
        self.refusals: list[tuple[str, list[str]]] = []
        # The bot token's scopes: manifest.yml's by default; None checks no scopes.
        self.scopes = scopes_of.manifest_scopes() if scopes == "manifest" else scopes
        self.token_scopes: dict[str, frozenset[str]] = {}  # OAuth-issued tokens
        # Workspaces: the default one, plus those an OAuth install added. A token belongs to
        # the workspace it was issued for (unknown tokens to the default one) and sees only
        # that workspace's channels.
        self.teams: dict[str, str] = {TEAM_ID: "Foghorn Fake"}
        self.token_teams: dict[str, str] = {}
        self.orgs: dict[str, str] = {}
        self.team_orgs: dict[str, str] = {}
        self.token_orgs: dict[str, str] = {}
        self.revoked: set[str] = set()
        self.oauth_client: tuple[str, str] | None = None  # (client_id, client_secret)
        self.oauth_redirect_url = ""  # the app's configured Redirect URL
        # code -> (team, installer, scopes granted)
        self._oauth_codes: dict[str, tuple[str, str, str]] = {}
        self.clock = clock  # message timestamps (the demo runs on simulated time)
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.response_sources: dict[str, tuple[str, str]] = {}  # key → (channel, ts)
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, float] = {}
        self.unreachable = False  # see _reachable
        self._limits: dict[str, tuple[int, list[float]]] = {}
        self.history_pace: tuple[float, int] | None = None  # see limit_history
        self._history_calls: dict[tuple[str, str], float] = {}
        self._ids = itertools.count(1)
        self._ts_us = 0  # the last message timestamp handed out, in microseconds
        self.on_message: list[Callable[[str, Channel, Message, str], None]] = []
        self._runner: web.AppRunner | None = None
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._socket_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.port: int | None = None
        self.add_user(BOT_USER_ID, "foghorn", is_bot=True)
        self.add_channel("incidents", channel_id=INCIDENTS_CHANNEL_ID, members=set())

    # ----- world set-up ---------------------------------------------------------------
    def add_user(self, user_id: str, name: str, *, is_bot: bool = False, tz: str = "UTC") -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": name.title(),
            "is_bot": is_bot,
            "tz": tz,
            "profile": {"display_name": name, "real_name": name.title()},
        }

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: set[str] | None = None,
        team: str = TEAM_ID,
    ) -> Channel:
        cid = channel_id or self._new_id("G" if is_private else "C")
        ch = Channel(id=cid, name=name, is_private=is_private, members=set(members or set()),
                     created=int(self.clock()), team=team)
        self.channels[cid] = ch
        return ch

    def channel_by_name(self, name: str, team: str = TEAM_ID) -> Channel | None:
        return next((c for c in self.channels.values()
                     if c.name == name.lstrip("#") and c.team == team), None)

    def human_message(self, channel: str, user: str, text: str,
                      thread_ts: str | None = None, file_name: str | None = None) -> Message:
        """A person posts in a channel (as typed in Slack's client); returns the message."""
        ch = self.channels[channel]
        files = []
        if file_name:
            fid = self._new_id("F")
            files = [{"id": fid, "name": file_name, "title": file_name,
                      "permalink": f"{self.base_url}files/{fid}/{file_name}"}]
        msg = Message(ts=self._new_ts(), user=user, text=text, thread_ts=thread_ts,
                      files=files)
        ch.messages.append(msg)
        self._emit("post", ch, msg)
        return msg

    def human_edit(self, channel: str, ts: str, text: str) -> tuple[Message, Message]:
        """A person edits their message; returns (before, after) copies."""
        msg = self.channels[channel].message(ts)
        assert msg is not None
        before = Message(**{**msg.__dict__})
        msg.text, msg.edited = text, True
        return before, msg

    def human_delete(self, channel: str, ts: str) -> Message:
        """A person deletes their message; returns a copy of it as it was. A thread parent
        with replies stays in history as Slack's tombstone (the replies stay too)."""
        ch = self.channels[channel]
        msg = ch.message(ts)
        assert msg is not None
        before = Message(**{**msg.__dict__})
        if any(r.thread_ts == ts and r.ts != ts for r in ch.messages):
            msg.subtype, msg.user, msg.text = "tombstone", "USLACKBOT", TOMBSTONE_TEXT
            msg.files, msg.edited = [], False
        else:
            ch.messages.remove(msg)
        return before

    def new_trigger_id(self) -> str:
        tid = f"{next(self._ids)}.{int(time.time())}.fake{next(self._ids):06d}"
        self.triggers[tid] = time.monotonic()
        return tid

    # ----- misbehaviour ---------------------------------------------------------------
    def fail(
        self, method: str, *, status: int = 429, times: int = 1, retry_after: int = 1,
        error: str | None = None, when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (`*` for any) with `status` (429 carries
        Retry-After); status 200 with `error` answers `{"ok": false, "error": error}`.
        `when` narrows the fault to calls whose arguments it accepts."""
        self._faults.setdefault(method, []).append(
            Fault(status, times, retry_after, error, when))

    def limit(self, method: str, per_second: int) -> None:
        """Answer `method` with 429 and `Retry-After: 1` beyond `per_second` calls in any
        second, as Slack's rate tiers do (conversations.create is Tier 2)."""
        self._limits[method] = (per_second, [])

    def _limited(self, method: str) -> bool:
        found = self._limits.get(method)
        if found is None:
            return False
        rate, recent = found
        now = time.monotonic()
        recent[:] = [t for t in recent if now - t < 1.0]
        if len(recent) >= rate:
            return True
        recent.append(now)
        return False

    def limit_history(self, *, window: float = 60.0, page: int = 15) -> None:
        """Slack's 2025 limits for apps distributed outside their organisation without
        Marketplace approval: conversations.history and conversations.replies answer one
        call per `window` seconds per workspace (429 `ratelimited` with Retry-After
        otherwise) and at most `page` messages a page."""
        self.history_pace = (window, page)

    def _history_wait(self, method: str, team: str) -> float:
        """Seconds until `method` may be called again in `team` (0: now, and counted)."""
        if self.history_pace is None or method not in HISTORY_METHODS:
            return 0.0
        window = self.history_pace[0]
        now = time.monotonic()
        last = self._history_calls.get((method, team))
        if last is not None and now - last < window:
            return window - (now - last)
        self._history_calls[(method, team)] = now
        return 0.0

    def delay(self, method: str, seconds: float, *, jitter: bool = False) -> None:
        """Delay every answer of `method` (`*` for all) by `seconds` (with `jitter`, by a
        random time up to `seconds`: answers then overtake each other, as on a network)."""
        self._delays[method] = -seconds if jitter else seconds

    # ----- inspection -----------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages_in(self, channel: str) -> list[Message]:
        ch = self.channels.get(channel) or self.channel_by_name(channel)
        return list(ch.messages) if ch else []

    # ----- server ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        """The Web API base URL, for SLACK_API_URL."""
        return f"{self.base_url}api/"

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024, middlewares=[self._reachable])
        app.router.add_route("*", "/api/{method}", self._dispatch)
        app.router.add_post("/{kind:commands|actions}/{team}/{n}/{key}", self._response_url)
        app.router.add_get("/_socket", self._socket_mode)
        app.router.add_get("/oauth/v2/authorize", self._oauth_authorize)
        app.router.add_post("/_upload/{file_id}", self._upload)
        app.router.add_post("/_fake/fault", self._control_fault)
        app.router.add_post("/_fake/delay", self._control_delay)
        app.router.add_get("/_fake/calls", self._control_calls)
        return app

    @web.middleware
    async def _reachable(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """With `unreachable` set, every request (Web API and response_url alike) has its
        connection dropped without an answer, as when Slack cannot be reached."""
        if self.unreachable and not request.path.startswith("/_fake/"):
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()  # never reaches the dropped client
        return await handler(request)

    async def start(self, port: int = 0) -> str:
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]  # an asyncio Server once started
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # likewise
        return self.url

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(parse_qsl(request.query_string, keep_blank_values=True))
        if request.can_read_body:
            raw = await request.read()
            ctype = request.content_type
            if ctype == "application/json" and raw:
                body = json.loads(raw)
                if isinstance(body, dict):
                    args.update(body)
            elif raw:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            args.setdefault("token", auth.removeprefix("Bearer "))
        elif auth.startswith("Basic "):  # oauth.v2.access: client_id:client_secret
            try:
                cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                cid, secret = "", ""
            args.setdefault("client_id", cid)
            args.setdefault("client_secret", secret)
        for key in ("blocks", "view", "attachments", "files"):
            if isinstance(args.get(key), str) and args[key]:
                try:
                    args[key] = json.loads(args[key])
                except json.JSONDecodeError:
                    args[key] = {"__invalid_json__": True}
        return args

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        started = time.monotonic()
        try:
            args = await self._args(request)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json({"ok": False, "error": "invalid_json"})
        call = Call(method, args, time.time(), request.method, started=started)
        self.calls.append(call)
        try:
            return await self._answer(method, args, call)
        finally:
            call.ended = time.monotonic()

    async def _answer(self, method: str, args: dict[str, Any], call: Call) -> web.Response:
        delay = self._delays.get(method, self._delays.get("*", 0.0))
        if delay:
            await asyncio.sleep(delay if delay > 0 else random.uniform(0, -delay))
        fault = self._take_fault(method, args)
        if fault is None and self._limited(method):
            fault = Fault(429, 1)
        if fault is not None:
            call.status = fault.status
            if fault.status == 429:
                call.error = "ratelimited"
                return _json(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(fault.retry_after)},
                )
            if fault.status >= 500:
                call.error = f"http_{fault.status}"
                return web.Response(status=fault.status, text="upstream trouble")
            call.error = fault.error or "fatal_error"
            return _json({"ok": False, "error": call.error})
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            call.error = "unknown_method"
            return _json({"ok": False, "error": "unknown_method", "req_method": method})
        token = args.get("token")
        if token in self.revoked:
            call.error = "token_revoked"
            return _json({"ok": False, "error": call.error})
        if method != "oauth.v2.access" and not self._token_ok(token, method):
            call.error = "invalid_auth" if token else "not_authed"
            return _json({"ok": False, "error": call.error})
        try:
            call.team = args["__team"] = self.token_team(str(token), args)
        except SlackError as exc:
            call.error = exc.error
            return _json({"ok": False, "error": exc.error})
        if not call.team and method in ORG_TOKEN_NEEDS_TEAM:
            call.error = "missing_argument"  # an org-wide token must name the workspace
            return _json({"ok": False, "error": call.error, "arg": "team_id"})
        wait = self._history_wait(method, call.team)
        if wait:
            call.status, call.error = 429, "ratelimited"
            return _json({"ok": False, "error": "ratelimited"}, status=429,
                         headers={"Retry-After": str(max(1, math.ceil(wait)))})
        call.types = self._conversation_types(method, args)
        missing = self._missing_scope(method, call.types, str(token))
        if missing is not None:
            call.error = "missing_scope"
            return _json({"ok": False, "error": "missing_scope", "needed": missing,
                          "provided": ",".join(sorted(self._granted(str(token)) or ()))})
        try:
            result = handler(args)
        except SlackError as exc:
            call.error = exc.error
            return _json({"ok": False, "error": exc.error, **exc.extra})
        return _json({"ok": True, **result})

    def _granted(self, token: str) -> frozenset[str] | None:
        return self.token_scopes.get(token, self.scopes)

    def _missing_scope(self, method: str, types: set[str], token: str) -> str | None:
        """The scope Slack would name in `missing_scope`, or None when the token has what the
        call needs (by Slack's method reference, per conversation type)."""
        granted = self._granted(token)
        if granted is None or method == "oauth.v2.access":
            return None
        for one_of in scopes_of.needed(method, types):
            if not one_of & granted:
                self.refusals.append(("missing_scope", [f"{method} needs one of "
                                                        f"{sorted(one_of)}"]))
                return ",".join(sorted(one_of))
        return None

    def _conversation_types(self, method: str, args: dict[str, Any]) -> set[str]:
        """The conversation types a call touches, as conversations.list names them."""
        if method == "conversations.list":
            return {t for t in str(args.get("types") or "public_channel").split(",") if t}
        if method == "conversations.create":
            private = str(args.get("is_private", "")).lower() in ("1", "true")
            return {"private_channel" if private else "public_channel"}
        ref = args.get("channel") or args.get("channel_id")
        ch = self.channels.get(str(ref or "")) or self.channel_by_name(
            str(ref or ""), args.get("__team", TEAM_ID))
        if ch is None:
            return set()
        if ch.id.startswith("D"):
            return {"im"}
        return {"private_channel" if ch.is_private else "public_channel"}

    def _take_fault(self, method: str, args: dict[str, Any]) -> Fault | None:
        for key in (method, "*"):
            for fault in self._faults.get(key, []):
                if fault.when is not None and not fault.when(args):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults[key].remove(fault)
                return fault
        return None

    def _token_ok(self, token: str | None, method: str) -> bool:
        if not token:
            return False
        if token in self.token_teams or token in self.token_orgs:
            return True
        if self.tokens is not None:
            return token in self.tokens
        prefix = "xapp-" if method == "apps.connections.open" else "xoxb-"
        return token.startswith(prefix)

    async def _control_fault(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.fail(b["method"], status=int(b.get("status", 429)), times=int(b.get("times", 1)),
                  retry_after=int(b.get("retry_after", 1)), error=b.get("error"))
        return _json({"ok": True})

    async def _control_delay(self, request: web.Request) -> web.Response:
        b = await request.json()
        self.delay(b.get("method", "*"), float(b["seconds"]))
        return _json({"ok": True})

    async def _control_calls(self, _request: web.Request) -> web.Response:
        return _json({"ok": True, "calls": [
            {"method": c.method, "at": c.at, "status": c.status, "error": c.error}
            for c in self.calls
        ]})

