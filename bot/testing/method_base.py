"""What the fake Slack's Web API methods share: the state FakeSlack holds (declared here for
the methods' mixins), finding channels as a token sees them, Slack's checks of text and
blocks, new ids and timestamps, and the JSON shapes of pages and messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.testing import blockkit
from bot.testing.slack_world import BOT_USER_ID, TEAM_ID, Channel, Message, SlackError


class MethodBase:
    """The state of FakeSlack (fake_slack.py) that its method mixins use, and their helpers."""

    strict: bool
    refusals: list[tuple[str, list[str]]]
    teams: dict[str, str]
    orgs: dict[str, str]
    team_orgs: dict[str, str]
    token_orgs: dict[str, str]
    history_pace: tuple[float, int] | None
    clock: Callable[[], float]
    users: dict[str, dict[str, Any]]
    channels: dict[str, Channel]
    ephemerals: list[dict[str, Any]]
    views: dict[str, dict[str, Any]]
    home_views: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]
    usergroups: dict[str, dict[str, Any]]
    triggers: dict[str, float]
    _ids: Iterator[int]
    _ts_us: int
    on_message: list[Callable[[str, Channel, Message, str], None]]

    if TYPE_CHECKING:  # FakeSlack's own
        @property
        def base_url(self) -> str: ...
        def add_channel(self, name: str, *, channel_id: str | None = None,
                        is_private: bool = False, members: set[str] | None = None,
                        team: str = ...) -> Channel: ...
        def channel_by_name(self, name: str, team: str = ...) -> Channel | None: ...

    # ----- helpers --------------------------------------------------------------------
    # ----- helpers --------------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _new_ts(self) -> str:
        """A unique, increasing Slack timestamp (exact integer arithmetic, as Slack's are)."""
        self._ts_us = max(int(self.clock() * 1_000_000), self._ts_us + 1)
        return f"{self._ts_us // 1_000_000}.{self._ts_us % 1_000_000:06d}"

    def _channel(self, args: dict[str, Any], key: str = "channel") -> Channel:
        ref = str(args.get(key) or "")
        if not ref:
            raise SlackError("channel_not_found")
        team = args.get("__team", TEAM_ID)
        ch = self.channels.get(ref) or self.channel_by_name(ref, team)
        if ch is not None and not ch.seen_by(team):
            ch = None  # another workspace's channel does not exist for this token
        if ch is None and ref in self.users:  # posting to a user ID opens the app DM
            ch = self.channels.get("D" + ref) or self.add_channel(
                "dm-" + ref.lower(), channel_id="D" + ref, is_private=True,
                members={ref, BOT_USER_ID},
            )
        if ch is None:
            raise SlackError("channel_not_found")
        if ch.is_private and BOT_USER_ID not in ch.members:
            raise SlackError("channel_not_found")
        return ch

    def _member_channel(self, args: dict[str, Any]) -> Channel:
        ch = self._channel(args)
        if BOT_USER_ID not in ch.members:
            raise SlackError("not_in_channel")
        if ch.is_archived:
            raise SlackError("is_archived")
        return ch

    def _check_blocks(self, blocks: Any) -> None:
        """Slack's answer to blocks it would refuse: `invalid_blocks` with the problems."""
        problems = blockkit.message_problems(blocks) if self.strict else []
        if problems:
            self.refusals.append(("invalid_blocks", problems))
            raise SlackError("invalid_blocks", errors=problems, response_metadata={
                "messages": [f"[ERROR] {p}" for p in problems]})

    def _check_text(self, text: str) -> None:
        if len(text) > blockkit.RULES["message_text"].limit:
            self.refusals.append(("msg_too_long", [f"{len(text)} characters"]))
            raise SlackError("msg_too_long")

    def _emit(self, kind: str, ch: Channel, msg: Message) -> None:
        for cb in self.on_message:
            cb(kind, ch, msg, self.users.get(msg.user, {}).get("name", msg.user))


def _us(ts: str) -> int:
    """A Slack timestamp as integer microseconds (floats lose the last digits)."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0) * 1_000_000 + int((fraction + "000000")[:6])


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
          ) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _page(items: list[Any], args: dict[str, Any], key: str) -> dict[str, Any]:
    limit = max(1, min(int(args.get("limit") or 100), 1000))
    start = int(args.get("cursor") or 0)
    chunk = items[start : start + limit]
    nxt = str(start + limit) if start + limit < len(items) else ""
    return {key: chunk, "has_more": bool(nxt), "response_metadata": {"next_cursor": nxt}}


def _msg_json(m: Message, ch: Channel, fake: MethodBase, with_metadata: bool = False
              ) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "ts": m.ts, "user": m.user, "text": m.text,
                           "team": TEAM_ID}
    if m.blocks:
        out["blocks"] = m.blocks
    if m.bot_id:
        out["bot_id"] = m.bot_id
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
    replies = [r for r in ch.messages if r.thread_ts == m.ts and r.ts != m.ts]
    if replies:
        out["thread_ts"] = m.ts
        out["reply_count"] = len(replies)
        out["latest_reply"] = replies[-1].ts
    if m.files:
        out["subtype"] = "file_share"
        out["files"] = m.files
    if m.subtype:
        out["subtype"] = m.subtype
        out["hidden"] = True
    if m.edited and not m.bot_id:
        out["edited"] = {"user": m.user, "ts": m.ts}
    if m.ts in ch.pins:
        out["pinned_to"] = [ch.id]
    if with_metadata and m.metadata:
        out["metadata"] = m.metadata
    return out
