"""The fake Slack's conversation methods (conversations.*, pins.*, bookmarks.*), as Slack
answers them: a mixin of FakeSlack."""

from __future__ import annotations

import re
from typing import Any

from bot.testing import blockkit
from bot.testing.method_base import MethodBase, _msg_json, _page, _us
from bot.testing.slack_world import _CHANNEL_NAME, BOT_USER_ID, TEAM_ID, SlackError


class ConversationMethods(MethodBase):
    """Channels: create, find, join, invite, topics, history and threads, pins, bookmarks."""

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
        if int(args.get("limit") or 100) >= 1000:  # "Must be an integer under 1000"
            raise SlackError("invalid_limit")
        types = str(args.get("types") or "public_channel").split(",")
        chans = [
            c for c in self.channels.values()
            if not c.id.startswith("D") and c.seen_by(args.get("__team", TEAM_ID))
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
        return _page([_msg_json(m, ch, self, with_metadata) for m in msgs], self._paced(args),
                     "messages")

    def m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        ch = self._member_channel(args)
        ts = str(args.get("ts") or "")
        if ch.message(ts) is None:
            raise SlackError("thread_not_found")
        oldest = _us(str(args.get("oldest") or "0"))
        msgs = [m for m in ch.messages
                if m.ts == ts or (m.thread_ts == ts and _us(m.ts) > oldest)]
        msgs.sort(key=lambda m: _us(m.ts))
        return _page([_msg_json(m, ch, self) for m in msgs], self._paced(args), "messages")

    def _paced(self, args: dict[str, Any]) -> dict[str, Any]:
        """Under Slack's 2025 history limits a page holds at most 15 messages, whatever
        `limit` asks for."""
        if self.history_pace is None:
            return args
        return {**args, "limit": min(int(args.get("limit") or 100), self.history_pace[1])}

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
