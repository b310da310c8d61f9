"""The fake Slack's Web API methods (`m_<method>`, with dots as underscores), as Slack answers
them, and the helpers they share: a mixin of FakeSlack, whose state they read and change."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.testing import blockkit
from bot.testing.slack_world import (
    _CHANNEL_NAME,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Channel,
    Message,
    SlackError,
)


class SlackMethods:
    """The Web API methods of FakeSlack (fake_slack.py), which holds the state below."""

    strict: bool
    refusals: list[tuple[str, list[str]]]
    teams: dict[str, str]
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
        if ch is not None and ch.team != team and not ch.id.startswith("D"):
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

    # ----- methods --------------------------------------------------------------------
    def m_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in args.items()
                         if k != "token" and not k.startswith("__")}}

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        team = args.get("__team", TEAM_ID)
        return {"url": "https://foghorn-fake.slack.com/", "team": self.teams[team],
                "user": "foghorn", "team_id": team, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "is_enterprise_install": False}

    def m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        if not name:
            raise SlackError("invalid_name_required")
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not _CHANNEL_NAME.match(name):
            raise SlackError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise SlackError("invalid_name_punctuation")
        if self.channel_by_name(name, args.get("__team", TEAM_ID)):
            raise SlackError("name_taken")
        private = str(args.get("is_private", "")).lower() in ("1", "true")
        ch = self.add_channel(name, is_private=private, members={BOT_USER_ID},
                              team=args.get("__team", TEAM_ID))
        ch.creator = BOT_USER_ID
        return {"channel": ch.info()}

    def m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel(args).info()}

    def m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = str(args.get("types") or "public_channel").split(",")
        chans = [
            c for c in self.channels.values()
            if not c.id.startswith("D") and c.team == args.get("__team", TEAM_ID)
            and (("private_channel" in types and c.is_private and BOT_USER_ID in c.members)
                 or ("public_channel" in types and not c.is_private))
            and not (str(args.get("exclude_archived", "")).lower() in ("1", "true")
                     and c.is_archived)
        ]
        return _page([c.info() for c in chans], args, "channels")

    def m_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        if ch.is_private:
            raise SlackError("method_not_supported_for_channel_type")
        if ch.is_archived:
            raise SlackError("is_archived")
        ch.members.add(BOT_USER_ID)
        return {"channel": ch.info()}

    def m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("no_user")
        for u in users:
            if u == BOT_USER_ID:
                raise SlackError("cant_invite_self")
            if u not in self.users:
                raise SlackError("user_not_found")
        if all(u in ch.members for u in users):
            raise SlackError("already_in_channel")
        ch.members.update(users)
        return {"channel": ch.info()}

    def m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        return _page(sorted(self._channel(args).members), args, "members")

    def _set_channel_text(self, args: dict[str, Any], field: str) -> dict[str, Any]:
        ch = self._member_channel(args)
        value = str(args.get(field) or "")
        if len(value) > blockkit.RULES[field].limit:
            self.refusals.append(("too_long", [f"{field}: {len(value)} characters"]))
            raise SlackError("too_long")
        setattr(ch, field, value)
        return {"channel": ch.info()}

    def m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._set_channel_text(args, "topic")

    def m_conversations_setPurpose(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._set_channel_text(args, "purpose")

    def m_conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ch.is_archived = True
        return {}

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        oldest = _us(str(args.get("oldest") or "0"))
        latest = _us(str(args.get("latest") or "9999999999"))
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        msgs = [m for m in ch.messages
                if (oldest <= _us(m.ts) <= latest if inclusive
                    else oldest < _us(m.ts) < latest)
                and m.thread_ts in (None, m.ts)]
        msgs.sort(key=lambda m: _us(m.ts), reverse=True)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        return _page([_msg_json(m, ch, self, with_metadata) for m in msgs], args, "messages")

    def m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ts = str(args.get("ts") or "")
        if ch.message(ts) is None:
            raise SlackError("thread_not_found")
        oldest = _us(str(args.get("oldest") or "0"))
        msgs = [m for m in ch.messages
                if m.ts == ts or (m.thread_ts == ts and _us(m.ts) > oldest)]
        msgs.sort(key=lambda m: _us(m.ts))
        return _page([_msg_json(m, ch, self) for m in msgs], args, "messages")

    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        if ch.is_archived:
            raise SlackError("is_archived")
        # Without chat:write.public a bot may only post where it is a member.
        if BOT_USER_ID not in ch.members and not ch.id.startswith("D"):
            raise SlackError("not_in_channel")
        text, blocks = str(args.get("text") or ""), args.get("blocks")
        if not text and not blocks:
            raise SlackError("no_text")
        self._check_text(text)
        if blocks:
            self._check_blocks(blocks)
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        msg = Message(ts=self._new_ts(), user=BOT_USER_ID, text=text, blocks=blocks or [],
                      thread_ts=args.get("thread_ts"), bot_id=BOT_ID,
                      metadata=metadata if isinstance(metadata, dict) else None)
        ch.messages.append(msg)
        self._emit("post", ch, msg)
        return {"channel": ch.id, "ts": msg.ts, "message": _msg_json(msg, ch, self)}

    def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        msg = ch.message(str(args.get("ts") or ""))
        if msg is None:
            raise SlackError("message_not_found")
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        if ch.is_archived:
            raise SlackError("is_archived")
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            raise SlackError("no_text")
        self._check_text(str(text or ""))
        if blocks:
            self._check_blocks(blocks)
            msg.blocks = blocks
        if text is not None:
            msg.text = str(text)
        msg.edited = True
        self._emit("update", ch, msg)
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text}

    def m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        msg = ch.message(str(args.get("ts") or ""))
        if msg is None:
            raise SlackError("message_not_found")
        ch.messages.remove(msg)
        return {"channel": ch.id, "ts": msg.ts}

    def m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        user = str(args.get("user") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        if user not in ch.members:
            raise SlackError("user_not_in_channel")
        if not args.get("text") and not args.get("blocks"):
            raise SlackError("no_text")
        self._check_text(str(args.get("text") or ""))
        if args.get("blocks"):
            self._check_blocks(args["blocks"])
        ts = self._new_ts()
        self.ephemerals.append({"channel": ch.id, "user": user, "text": args.get("text", ""),
                                "blocks": args.get("blocks") or [], "ts": ts})
        return {"message_ts": ts}

    def m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        ts = str(args.get("message_ts") or "")
        if ch.message(ts) is None:
            raise SlackError("message_not_found")
        return {"channel": ch.id,
                "permalink": f"{self.base_url}archives/{ch.id}/p{ts.replace('.', '')}"}

    def m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ts = str(args.get("timestamp") or "")
        if not ts:
            raise SlackError("no_item_specified")
        if ch.message(ts) is None:
            raise SlackError("message_not_found")
        if ts in ch.pins:
            raise SlackError("already_pinned")
        ch.pins.append(ts)
        return {}

    def m_pins_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ts = str(args.get("timestamp") or "")
        if ts not in ch.pins:
            raise SlackError("no_pin")
        ch.pins.remove(ts)
        return {}

    def m_pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._channel(args)
        return {"items": [{"type": "message", "channel": ch.id,
                           "message": _msg_json(m, ch, self)}
                          for ts in ch.pins if (m := ch.message(ts))]}

    def m_usergroups_list(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"usergroups": [{"id": gid, "handle": g["handle"], "users": sorted(g["users"])}
                               for gid, g in self.usergroups.items()]}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user}

    def _check_trigger(self, args: dict[str, Any]) -> None:
        tid = str(args.get("trigger_id") or "")
        issued = self.triggers.get(tid)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        if time.monotonic() - issued > 3.0:
            raise SlackError("expired_trigger_id")
        del self.triggers[tid]

    def _check_view(self, view: Any) -> dict[str, Any]:
        """Slack answers a view it would refuse with `invalid_arguments` and the problems."""
        if not isinstance(view, dict) or view.get("__invalid_json__"):
            problems = ["must provide an object [json-pointer:/view]"]
        else:
            problems = blockkit.view_problems(view) if self.strict else []
        if problems:
            self.refusals.append(("invalid_arguments", problems))
            raise SlackError("invalid_arguments", response_metadata={
                "messages": [f"[ERROR] {p}" for p in problems]})
        assert isinstance(view, dict)
        return view

    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self._check_trigger(args)
        view = dict(self._check_view(args.get("view")))
        view["id"] = self._new_id("V")
        self.views[view["id"]] = view
        return {"view": view}

    def m_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self.m_views_open(args)

    def m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        vid = str(args.get("view_id") or "")
        if vid not in self.views:
            raise SlackError("not_found")
        view = dict(self._check_view(args.get("view")))
        view["id"] = vid
        self.views[vid] = view
        return {"view": view}

    def m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id") or "")
        if user not in self.users:
            raise SlackError("user_not_found")
        view = dict(self._check_view(args.get("view")))
        view["id"] = self._new_id("V")
        view["team_id"] = args.get("__team", TEAM_ID)
        self.home_views[user] = view
        return {"view": view}

    def m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        name, length = str(args.get("filename") or ""), str(args.get("length") or "")
        if not name or not length.isdigit():
            raise SlackError("invalid_arguments")
        file_id = self._new_id("F")
        self.files[file_id] = {"id": file_id, "name": name, "length": int(length),
                               "content": None, "title": name,
                               "permalink": f"{self.base_url}files/{file_id}/{name}"}
        return {"upload_url": f"{self.base_url}_upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = args.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise SlackError("invalid_arguments")
        done = []
        for item in wanted:
            f = self.files.get(str(item.get("id")))
            if f is None:
                raise SlackError("file_not_found")
            if f["content"] is None:
                raise SlackError("file_upload_not_complete")
            f["title"] = item.get("title") or f["name"]
            done.append({k: v for k, v in f.items() if k != "content"})
        channel = args.get("channel_id")
        if channel:
            ch = self._member_channel({"channel": channel})
            msg = Message(ts=self._new_ts(), user=BOT_USER_ID,
                          text=str(args.get("initial_comment") or ""), bot_id=BOT_ID,
                          files=done, thread_ts=args.get("thread_ts"))
            ch.messages.append(msg)
            self._emit("post", ch, msg)
        return {"files": done}

    def m_bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel({"channel": args.get("channel_id")})
        if not args.get("title") or args.get("type") != "link" or not args.get("link"):
            raise SlackError("invalid_arguments")
        bm = {"id": self._new_id("Bk"), "channel_id": ch.id, "title": args["title"],
              "link": args["link"], "type": "link"}
        ch.bookmarks.append(bm)
        return {"bookmark": bm}

    def m_bookmarks_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"bookmarks": list(self._member_channel({"channel": args.get("channel_id")})
                                  .bookmarks)}


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


def _msg_json(m: Message, ch: Channel, fake: SlackMethods, with_metadata: bool = False
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
