"""The one gateway to Slack's Web API.

Every Web API call Foghorn makes goes through `SlackGateway`. It owns the `AsyncWebClient`
(pointed at `SLACK_API_URL`, with slack_sdk's retry handlers for connection errors, 429
`Retry-After` and 500/503), turns Slack's error codes into a few exceptions the service can
act on, and treats the harmless ones (`already_in_channel`, `already_pinned`) as success.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.errors import ChannelNameTaken, ChatError
from bot.metrics import Metrics
from bot.playbooks import target_kind
from bot.slack.pacing import PACED, Pacer, Ratelimited

log = logging.getLogger(__name__)

TOPIC_LIMIT = 250
LIST_PAGE = 200  # conversations.list takes "an integer under 1000"; Slack advises 200
HISTORY_PAGE = 200  # asked for; Slack's 2025 limits answer 15 at most, with a cursor
# How long a "was this already posted?" check may wait for Slack's history pace before
# giving up (its reminder is tried again later instead of holding the others).
CHECK_PATIENCE = 10.0


class SlackCallError(ChatError):
    """A Web API call failed for good (after retries); `error` is Slack's error code."""


class NameTaken(SlackCallError, ChannelNameTaken):
    pass


class CountedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (waits Retry-After, then retries), counting each 429."""

    def __init__(self, metrics: Metrics | None, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.metrics = metrics

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None,
                               error: Exception | None = None) -> bool:
        limited = response is not None and response.status_code == 429
        method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        if limited and self.metrics is not None:
            self.metrics.slack_ratelimited.labels(method).inc()
        # History methods wait their turn in the gateway's Pacer, where a caller can give up.
        return limited and method not in PACED


# Methods an org-wide install's token may call only naming the workspace (`team_id`).
ORG_TEAM_METHODS = frozenset({"conversations.create", "conversations.list",
                              "usergroups.list"})
# Errors that mean a token will never work.
TOKEN_REFUSED = ("invalid_auth", "not_authed", "token_revoked", "token_expired",
                 "account_inactive", "not_allowed_token_type")


def make_client(token: str | None, base_url: str, *, timeout: int = 15,
                session: aiohttp.ClientSession | None = None,
                metrics: Metrics | None = None) -> AsyncWebClient:
    """An AsyncWebClient that honours SLACK_API_URL, keeps its connections open between calls,
    and retries what Slack asks us to retry. Call inside a running event loop."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        session=session or aiohttp.ClientSession(),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            CountedRateLimitRetryHandler(metrics, max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=3),
        ],
    )


class SlackGateway:
    def __init__(self, client: AsyncWebClient, metrics: Metrics | None = None, *,
                 org_team: str | None = None) -> None:
        self.client = client
        self.metrics = metrics
        # An org-wide install's token acts for a whole Enterprise Grid organisation: the
        # workspace its calls are for goes with the methods that need it.
        self.org_team = org_team
        self.pacer = Pacer()
        # Where a "was it posted?" scan of a channel's history got to, by its key: a scan
        # that ran out of patience goes on from there the next time.
        self._scanned: dict[str, str] = {}
        self._channel_ids: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._identity: dict[str, Any] | None = None
        self._creating = asyncio.Lock()

    async def close(self) -> None:
        if self.client.session is not None:
            await self.client.session.close()

    async def call(self, method: str, *, ignore: tuple[str, ...] = (),
                   patience: float | None = None, **args: Any) -> dict[str, Any]:
        """Call `method`; raise SlackCallError on failure unless the error is in `ignore`.
        History methods wait for Slack's pace (`patience`: at most that many seconds, else
        SlackCallError `ratelimited`)."""
        # The SDK's typed methods encode arguments the way Slack expects for each method.
        fn = getattr(self.client, method.replace(".", "_"))
        if self.org_team and method in ORG_TEAM_METHODS:
            args.setdefault("team_id", self.org_team)
        try:
            if method in PACED:
                resp = await self.pacer.call(method, lambda: fn(**args), patience=patience)
            else:
                resp = await fn(**args)
            self._count(method, "ok")
            return dict(resp.data) if isinstance(resp.data, dict) else {}
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error") or f"http_{exc.response.status_code}")
            self._count(method, error)
            if error in ignore:
                return {"ok": False, "error": error}
            log.warning("slack call %s failed: %s", method, error)
            if error == "name_taken":
                raise NameTaken(method, error) from None
            raise SlackCallError(method, error) from None
        except Ratelimited:
            self._count(method, "ratelimited")
            raise SlackCallError(method, "ratelimited") from None
        except (aiohttp.ClientError, TimeoutError) as exc:  # after the retry handlers gave up
            self._count(method, "connection_error")
            log.warning("slack call %s failed: %s", method, exc)
            raise SlackCallError(method, "connection_error") from None

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.slack_calls.labels(method, outcome).inc()

    # ----- channels ----------------------------------------------------------------------
    async def pages(self, method: str, key: str, **args: Any
                    ) -> AsyncIterator[dict[str, Any]]:
        """Every item under `key` across a cursor-paginated method's pages (stop early by
        breaking out)."""
        cursor = ""
        while True:
            data = await self.call(method, cursor=cursor, **args)
            for item in data.get(key, []):
                if isinstance(item, dict):
                    yield item
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    async def posted_since(self, channel: str, since: datetime,
                           tagged: Callable[[dict[str, Any]], bool], *, key: str = "",
                           patience: float | None = CHECK_PATIENCE) -> bool:
        """Whether a message whose metadata `tagged` accepts was posted in `channel` since
        `since` (every page of its history since then): the check a retry makes before
        posting again. A channel Foghorn is not in holds none of its posts. Under Slack's
        history pace a check may run out of `patience` (SlackCallError `ratelimited`); the
        next check with the same `key` goes on below the pages already read, since what it
        looks for was posted before the first check began."""
        oldest = f"{since.timestamp() - 1:.6f}"
        below = self._scanned.get(key) if key else None
        args: dict[str, Any] = {"latest": below} if below else {}
        try:
            async for m in self.pages("conversations.history", "messages", channel=channel,
                                      oldest=oldest, inclusive=True, limit=HISTORY_PAGE,
                                      include_all_metadata=True, patience=patience, **args):
                if tagged(m.get("metadata") or {}):
                    self._scanned.pop(key, None)
                    return True
                if key and isinstance(m.get("ts"), str):
                    self._remember_scan(key, m["ts"])
        except ChatError as exc:
            if exc.error != "not_in_channel":
                raise
        self._scanned.pop(key, None)
        return False

    def _remember_scan(self, key: str, ts: str) -> None:
        if key not in self._scanned and len(self._scanned) >= 1000:
            self._scanned.pop(next(iter(self._scanned)))
        self._scanned[key] = ts

    async def members(self, channel: str) -> AsyncIterator[str]:
        """The channel's members, page by page (conversations.members lists plain ids)."""
        cursor = ""
        while True:
            data = await self.call("conversations.members", channel=channel, cursor=cursor,
                                   limit=200)
            for member in data.get("members", []):
                yield str(member)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    async def create_channel(self, name: str, *, is_private: bool) -> str:
        """One creation at a time per workspace: conversations.create is Tier 2 (about 20 a
        minute), so a burst of declares queues here behind Slack's Retry-After instead of
        exhausting its retries side by side."""
        async with self._creating:
            data = await self.call("conversations.create", name=name, is_private=is_private)
        return str(data["channel"]["id"])

    async def invite(self, channel: str, users: list[str]) -> None:
        users = [u for u in users if u]
        if users:
            await self.call("conversations.invite", channel=channel, users=",".join(users),
                            ignore=("already_in_channel", "cant_invite_self"))

    async def set_topic(self, channel: str, topic: str) -> None:
        if len(topic) > TOPIC_LIMIT:
            topic = topic[: TOPIC_LIMIT - 1] + "…"
        await self.call("conversations.setTopic", channel=channel, topic=topic)

    async def pin(self, channel: str, ts: str) -> None:
        await self.call("pins.add", channel=channel, timestamp=ts, ignore=("already_pinned",))

    async def resolve_channel_id(self, ref: str) -> str:
        """A channel ID for `ref` (an ID, or a public channel's name), cached."""
        if ref[:1] in ("C", "G") and ref[1:].isalnum() and ref.upper() == ref:
            return ref
        if ref in self._channel_ids:
            return self._channel_ids[ref]
        async for ch in self.pages("conversations.list", "channels", types="public_channel",
                                   exclude_archived=True, limit=LIST_PAGE):
            self._channel_ids[ch["name"]] = ch["id"]
            if ch["name"] == ref:
                break
        if ref not in self._channel_ids:
            raise SlackCallError("conversations.list", "channel_not_found")
        return self._channel_ids[ref]

    # ----- messages ----------------------------------------------------------------------
    async def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
                   **extra: Any) -> str:
        args: dict[str, Any] = {"channel": channel, "text": text, **extra}
        if blocks:
            args["blocks"] = blocks
        data = await self.call("chat.postMessage", **args)
        return str(data["ts"])

    async def post_to_channel_ref(self, ref: str, text: str,
                                  blocks: list[dict[str, Any]] | None = None,
                                  **extra: Any) -> str:
        """Post to a channel named in configuration; join it first if Slack asks us to (the
        first post into a public channel nobody invited Foghorn to: normal, logged at info)."""
        args: dict[str, Any] = {"channel": ref, "text": text, **extra}
        if blocks:
            args["blocks"] = blocks
        data = await self.call("chat.postMessage", ignore=("not_in_channel",), **args)
        if data.get("ok", True):
            return str(data["ts"])
        channel_id = await self.resolve_channel_id(ref)
        log.info("joining channel %s (%s) to post there for the first time", ref, channel_id,
                 extra={"channel": channel_id})
        await self.call("conversations.join", channel=channel_id)
        return await self.post(channel_id, text, blocks, **extra)

    async def update(self, channel: str, ts: str, text: str,
                     blocks: list[dict[str, Any]] | None = None) -> None:
        await self.call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks or [])

    async def ephemeral(self, channel: str, user: str, text: str,
                        blocks: list[dict[str, Any]] | None = None) -> None:
        args: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if blocks:
            args["blocks"] = blocks
        await self.call("chat.postEphemeral", **args)

    async def tell(self, channel: str | None, user: str, text: str) -> None:
        """Say something to one person: ephemeral where they are, else in the app's DM."""
        if channel:
            try:
                await self.ephemeral(channel, user, text)
                return
            except SlackCallError as exc:
                log.info("ephemeral failed (%s); falling back to a DM", exc.error)
        await self.post(user, text)

    async def upload(self, channel: str, filename: str, content: str, *, title: str,
                     comment: str) -> None:
        """Upload a text file to a channel (getUploadURLExternal, the upload, complete)."""
        try:
            await self.client.files_upload_v2(channel=channel, filename=filename,
                                              content=content, title=title,
                                              initial_comment=comment)
            self._count("files.upload_v2", "ok")
        except SlackApiError as exc:
            error = str((exc.response.data or {}).get("error", "upload_failed"))
            self._count("files.upload_v2", error)
            raise SlackCallError("files.upload_v2", error) from None
        except SlackRequestError as exc:
            self._count("files.upload_v2", "request_error")
            raise SlackCallError("files.upload_v2", str(exc)) from None

    async def display_name(self, user: str) -> str | None:
        """A person's display name (cached), or None if Slack will not say (or there is no
        token to ask with, as in `foghorn export` run offline)."""
        if self.client.token is None:
            return None
        if user not in self._names:
            try:
                data = await self.call("users.info", user=user)
            except SlackCallError:
                return None
            profile = data.get("user", {}).get("profile", {})
            self._names[user] = (profile.get("display_name") or profile.get("real_name")
                                 or data.get("user", {}).get("name") or user)
        return self._names[user]

    async def identity(self) -> dict[str, Any]:
        """The token's auth.test answer (bot user, team, enterprise), asked once."""
        if self._identity is None:
            # A refused token is reported once, by whoever asked (start-up: one line).
            data = dict(await self.call("auth.test", ignore=TOKEN_REFUSED))
            if not data.get("ok", True):
                raise SlackCallError("auth.test", str(data.get("error")))
            self._identity = data
        return self._identity

    @property
    def known_identity(self) -> dict[str, Any]:
        """What auth.test said, if it has answered yet ({} if not): for the request path,
        which must never wait for Slack."""
        return self._identity or {}

    async def bot_user_id(self) -> str:
        return str((await self.identity()).get("user_id", ""))

    async def find_channel(self, name: str) -> dict[str, Any] | None:
        """The channel (public, or private with the bot in it) called `name`, or None."""
        async for ch in self.pages("conversations.list", "channels",
                                   types="public_channel,private_channel", limit=LIST_PAGE):
            if ch.get("name") == name:
                return dict(ch)
        return None

    async def target_exists(self, target: str) -> bool:
        """Whether an escalation target (user, user group or channel) exists. Raises
        SlackCallError when Slack cannot say (rather than answering that it does not)."""
        kind, ref = target_kind(target), target.lstrip("@#")
        try:
            if kind == "user":
                await self.call("users.info", user=ref)
            elif kind == "usergroup":
                groups = await self.call("usergroups.list")
                return any(g.get("id") == ref for g in groups.get("usergroups", []))
            elif target.startswith("#"):
                await self.resolve_channel_id(ref)
            else:
                await self.call("conversations.info", channel=ref)
        except SlackCallError as exc:
            if exc.error in ("user_not_found", "channel_not_found", "no_such_subteam"):
                return False
            raise
        return True

    # ----- views -------------------------------------------------------------------------
    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        await self.call("views.open", trigger_id=trigger_id, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await self.call("views.publish", user_id=user_id, view=view)

