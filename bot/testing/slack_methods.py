"""The fake Slack's Web API methods (`m_<method>`, with dots as underscores), as Slack answers
them: a mixin of FakeSlack, whose state they read and change. Conversations are in
conversation_methods; what the methods share is in method_base."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.testing import blockkit
from bot.testing.conversation_methods import ConversationMethods
from bot.testing.method_base import _json, _msg_json, _page, _us
from bot.testing.slack_world import BOT_ID, BOT_USER_ID, TEAM_ID, Message, SlackError

__all__ = ["SlackMethods", "_json", "_msg_json", "_page", "_us"]


class SlackMethods(ConversationMethods):
    """The Web API methods of FakeSlack (fake_slack.py) other than conversations'."""

    def m_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in args.items()
                         if k != "token" and not k.startswith("__")}}

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        team = args.get("__team", TEAM_ID)
        org = self.token_orgs.get(str(args.get("token")))
        if org is not None:  # an org-wide install's token speaks for the organisation
            return {"url": "https://foghorn-org.enterprise.slack.com/", "team": self.orgs[org],
                    "user": "foghorn", "team_id": org, "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID, "enterprise_id": org, "is_enterprise_install": True}
        found = {"url": "https://foghorn-fake.slack.com/", "team": self.teams[team],
                 "user": "foghorn", "team_id": team, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                 "is_enterprise_install": False}
        if team in self.team_orgs:
            found["enterprise_id"] = self.team_orgs[team]
        return found

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
