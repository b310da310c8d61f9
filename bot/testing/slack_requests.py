"""Send requests to the bot the way Slack does: signed, over HTTP, in Slack's payload shapes.

Slash commands are form posts; interactivity is a form post with one `payload` field holding
JSON; events are JSON `event_callback` envelopes. Every request carries
`X-Slack-Request-Timestamp` and `X-Slack-Signature` (`v0=` + HMAC-SHA256 of
`v0:{timestamp}:{body}` with the signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.testing.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack, Message

APP_ID = "A0FOGHORN"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        """The ack's visible text (ephemeral answer), or '' for an empty ack."""
        data = self.json() if self.body.startswith("{") else None
        return str(data.get("text", "")) if isinstance(data, dict) else self.body


class SlackSender:
    """Plays Slack's side of the HTTP conversation with a running bot."""

    def __init__(self, bot_url: str, signing_secret: str, fake: FakeSlack,
                 session: aiohttp.ClientSession) -> None:
        self.url = bot_url.rstrip("/") + "/slack/events"
        self.secret = signing_secret
        self.fake = fake
        self.session = session
        self._ids = itertools.count(1)

    async def post(self, body: bytes, content_type: str, *, headers: dict[str, str] | None = None,
                   timestamp: int | None = None, secret: str | None = None) -> Reply:
        h = {"Content-Type": content_type,
             **sign(secret or self.secret, body, timestamp), **(headers or {})}
        async with self.session.post(self.url, data=body, headers=h) as resp:
            return Reply(resp.status, await resp.text())

    # ----- slash commands -------------------------------------------------------------------
    async def command(self, text: str, *, user: str, channel: str, command: str = "/incident",
                      **overrides: Any) -> Reply:
        ch = self.fake.channels.get(channel)
        fields = {
            "token": "verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "foghorn-fake",
            "channel_id": channel,
            "channel_name": ch.name if ch else "directmessage",
            "user_id": user,
            "user_name": self.fake.users.get(user, {}).get("name", user),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(),
            "trigger_id": self.fake.new_trigger_id(),
            **overrides,
        }
        return await self.post(urlencode(fields).encode(), "application/x-www-form-urlencoded")

    # ----- interactivity --------------------------------------------------------------------
    async def interaction(self, payload: dict[str, Any]) -> Reply:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded")

    def _user(self, user: str) -> dict[str, Any]:
        name = self.fake.users.get(user, {}).get("name", user)
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    async def block_action(self, *, user: str, channel: str, message_ts: str,
                           action: dict[str, Any], team: str = TEAM_ID,
                           enterprise: str | None = None) -> Reply:
        ch = self.fake.channels[channel]
        msg = ch.message(message_ts)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          "is_ephemeral": False},
            "trigger_id": self.fake.new_trigger_id(),
            "team": {"id": team, "domain": "foghorn-fake"},
            "enterprise": {"id": enterprise, "name": enterprise} if enterprise else None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": ch.name},
            "message": {"type": "message", "ts": message_ts, "user": BOT_USER_ID,
                        "text": msg.text if msg else "", "blocks": msg.blocks if msg else []},
            "state": {"values": {}},
            "response_url": self.fake.response_url(
                kind="actions", source=(channel, message_ts) if msg else None),
            "actions": [{"action_ts": f"{time.time():.6f}", **action}],
        }
        return await self.interaction(payload)

    async def click(self, *, user: str, channel: str, message_ts: str, action_id: str,
                    block_id: str | None = None, value: str | None = None,
                    team: str = TEAM_ID, enterprise: str | None = None) -> Reply:
        """Click the button `action_id` (in `block_id`, when several share the id), as a
        person of workspace `team` (of organisation `enterprise`)."""
        button = _find_element(self.fake, channel, message_ts, action_id, block_id, value)
        return await self.block_action(user=user, channel=channel, message_ts=message_ts,
                                       team=team, enterprise=enterprise,
                                       action={"type": "button", "action_id": action_id,
                                               "block_id": button["block_id"],
                                               "text": button["text"],
                                               "value": value or button.get("value", "")})

    async def pick_user(self, *, user: str, channel: str, message_ts: str, action_id: str,
                        block_id: str, selected: str) -> Reply:
        picker = _find_element(self.fake, channel, message_ts, action_id, block_id)
        return await self.block_action(user=user, channel=channel, message_ts=message_ts,
                                       action={"type": "users_select", "action_id": action_id,
                                               "block_id": picker["block_id"],
                                               "selected_user": selected})

    async def block_action_home(self, *, user: str, action_id: str) -> Reply:
        payload = {
            "type": "block_actions", "user": self._user(user), "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": self.fake.new_trigger_id(),
            "team": {"id": TEAM_ID, "domain": "foghorn-fake"},
            "view": {"id": "VHOME", "type": "home"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                         "action_ts": f"{time.time():.6f}"}],
        }
        return await self.interaction(payload)

    async def submit_view(self, *, user: str, view: dict[str, Any],
                          values: dict[str, dict[str, Any]]) -> Reply:
        """Submit a modal; `values` maps block_id → the element state Slack would send."""
        state = {block: {"value": v} for block, v in values.items()}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "foghorn-fake"},
            "user": self._user(user),
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "trigger_id": self.fake.new_trigger_id(),
            "view": {**view, "id": view.get("id", "V0"), "team_id": TEAM_ID,
                     "state": {"values": state}, "hash": "1.abc", "app_id": APP_ID,
                     "bot_id": "BFOGHORN"},
            "response_urls": [],
            "is_enterprise_install": False,
        }
        return await self.interaction(payload)

    # ----- events ---------------------------------------------------------------------------
    def message_event(self, channel: str, msg: Message) -> dict[str, Any]:
        ch = self.fake.channels[channel]
        event: dict[str, Any] = {
            "type": "message", "channel": channel, "user": msg.user, "text": msg.text,
            "ts": msg.ts, "event_ts": msg.ts, "team": ch.team,
            "channel_type": _channel_type(self.fake, channel),
            "blocks": [{"type": "rich_text", "block_id": "b1", "elements": []}],
        }
        if msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
        if msg.files:
            event["subtype"] = "file_share"
            event["files"] = msg.files
        return event

    async def say(self, channel: str, user: str, text: str, *, thread_ts: str | None = None,
                  file_name: str | None = None, event_id: str | None = None,
                  retry_num: int | None = None) -> tuple[Message, Reply]:
        """A person posts in `channel`: the fake stores it and the bot gets the event."""
        msg = self.fake.human_message(channel, user, text, thread_ts, file_name)
        reply = await self.event(self.message_event(channel, msg), event_id=event_id,
                                 retry_num=retry_num, team=self.fake.channels[channel].team)
        return msg, reply

    async def edit(self, channel: str, ts: str, text: str) -> Reply:
        before, after = self.fake.human_edit(channel, ts, text)
        now = f"{time.time():.6f}"
        return await self.event({
            "type": "message", "subtype": "message_changed", "hidden": True,
            "channel": channel, "ts": now, "event_ts": now,
            "message": {"type": "message", "user": after.user, "text": after.text,
                        "ts": after.ts, "edited": {"user": after.user, "ts": now}},
            "previous_message": {"type": "message", "user": before.user,
                                 "text": before.text, "ts": before.ts},
        })

    async def delete(self, channel: str, ts: str) -> Reply:
        """A person deletes a message. As Slack does: `message_deleted`, except for a thread
        parent with replies, which becomes a tombstone announced as `message_changed`."""
        gone = self.fake.human_delete(channel, ts)
        now = f"{time.time():.6f}"
        previous = {"type": "message", "user": gone.user, "text": gone.text, "ts": gone.ts}
        if gone.thread_ts:
            previous["thread_ts"] = gone.thread_ts
        kept = self.fake.channels[channel].message(ts)
        if kept is not None:  # the tombstone
            return await self.event({
                "type": "message", "subtype": "message_changed", "hidden": True,
                "channel": channel, "channel_type": _channel_type(self.fake, channel),
                "ts": now, "event_ts": now,
                "message": {"type": "message", "subtype": "tombstone", "hidden": True,
                            "user": kept.user, "text": kept.text, "ts": ts, "thread_ts": ts},
                "previous_message": {**previous, "thread_ts": ts},
            })
        return await self.event({
            "type": "message", "subtype": "message_deleted", "hidden": True,
            "channel": channel, "channel_type": _channel_type(self.fake, channel),
            "ts": now, "event_ts": now, "deleted_ts": ts, "previous_message": previous,
        })

    async def react(self, channel: str, ts: str, user: str, reaction: str = "pushpin", *,
                    removed: bool = False) -> Reply:
        now = f"{time.time():.6f}"
        return await self.event({
            "type": "reaction_removed" if removed else "reaction_added", "user": user,
            "reaction": reaction, "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": now,
        })

    async def pin(self, channel: str, ts: str, user: str, *, removed: bool = False) -> Reply:
        ch = self.fake.channels[channel]
        if removed and ts in ch.pins:
            ch.pins.remove(ts)
        elif not removed:
            ch.pins.append(ts)
        msg = ch.message(ts)
        now = f"{time.time():.6f}"
        return await self.event({
            "type": "pin_removed" if removed else "pin_added", "user": user,
            "channel_id": channel, "event_ts": now,
            "item": {"type": "message", "channel": channel, "created": int(time.time()),
                     "created_by": user,
                     "message": {"type": "message", "ts": ts, "user": msg.user if msg else "",
                                 "text": msg.text if msg else ""}},
        })

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None,
                 team: str = TEAM_ID, enterprise: str | None = None,
                 authorized: tuple[str | None, str | None] | None = None,
                 org_install: bool = False) -> dict[str, Any]:
        """An Events API envelope as Slack sends it. `team`/`enterprise`: where the event
        happened (in a Slack Connect channel, the partner's); `authorized`: the (team,
        enterprise) of the installation it is delivered for (default: the same)."""
        auth_team, auth_org = authorized or (None if org_install else team, enterprise)
        envelope = {
            "token": "verification-token-unused",
            "team_id": team,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):010d}",
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": auth_org, "team_id": auth_team,
                                "user_id": BOT_USER_ID, "is_bot": True,
                                "is_enterprise_install": org_install}],
            "is_ext_shared_channel": authorized is not None and authorized[0] != team,
        }
        if enterprise is not None:
            envelope["enterprise_id"] = enterprise
        return envelope

    async def event(self, event: dict[str, Any], *, event_id: str | None = None,
                    retry_num: int | None = None, team: str = TEAM_ID,
                    enterprise: str | None = None,
                    authorized: tuple[str | None, str | None] | None = None,
                    org_install: bool = False) -> Reply:
        envelope = self.envelope(event, event_id=event_id, team=team, enterprise=enterprise,
                                 authorized=authorized, org_install=org_install)
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num),
                       "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(json.dumps(envelope).encode(), "application/json",
                               headers=headers)


def _channel_type(fake: FakeSlack, channel: str) -> str:
    """The `channel_type` Slack puts on message events: `group` for private channels."""
    ch = fake.channels[channel]
    return "im" if ch.id.startswith("D") else "group" if ch.is_private else "channel"


def _find_element(fake: FakeSlack, channel: str, ts: str, action_id: str,
                  block_id: str | None, value: str | None = None) -> dict[str, Any]:
    msg = fake.channels[channel].message(ts)
    if msg is None:
        raise LookupError(f"no message {ts} in {channel}")
    for block in msg.blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for el in elements:
            if el.get("action_id") == action_id and value in (None, el.get("value")):
                return {**el, "block_id": block.get("block_id", "")}
    raise LookupError(f"no element {action_id} (block {block_id}, value {value}) on "
                      f"message {ts}")
