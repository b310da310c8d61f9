"""Checks a request from Slack before Bolt sees it: signature first, then shape.

Bolt parses the body before it checks anything and fails with a 500 on a body that is not the
JSON or form it expects. Slack never sends such a body, so one is either a bug or an attack:
it gets a precise 4xx, never a 500 (which would also make Slack deliver it again). A signed
event callback whose event is not an object is answered 200 and ignored, as Slack asks of
events an app does not handle.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from slack_bolt.request.internals import extract_enterprise_id, extract_team_id

from bot import safe_json
from bot.slack.text import obj

log = logging.getLogger(__name__)


class Verdict:
    """An early answer: HTTP status and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Accepted:
    """A request that goes on to Bolt: what it is (`command`, `interaction`, `event`) and
    the ids that say where it comes from, for the logs and the metrics."""

    kind: str
    ids: dict[str, str] = field(default_factory=dict)


MAX_AGE = 5 * 60  # Slack's rule: refuse requests older than five minutes


def signed(secret: str, body: bytes, headers: Mapping[str, str], now: float | None = None
           ) -> bool:
    """`X-Slack-Signature` is `v0=` + HMAC-SHA256 of `v0:{timestamp}:{raw body}`."""
    stamp = headers.get("X-Slack-Request-Timestamp", "")
    given = headers.get("X-Slack-Signature", "")
    if not secret or not stamp.isdigit() or not given:
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > MAX_AGE:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}", given)


def check(body: bytes, headers: Mapping[str, str], secret: str) -> Verdict | Accepted:
    """`Accepted` when the request should go on to Bolt; otherwise the answer to give."""
    if not signed(secret, body, headers):
        return Verdict(401, "invalid signature or stale timestamp")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(400, "body is not UTF-8")
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return _check_json(text)
    if ctype == "application/x-www-form-urlencoded":
        return _check_form(text)
    return Verdict(415, f"unsupported content type {ctype or '(none)'}")


def _ids(**found: Any) -> dict[str, str]:
    return {k: v for k, v in found.items() if isinstance(v, str) and v}


def _check_json(text: str) -> Verdict | Accepted:
    try:
        data = safe_json.loads(text)
    except safe_json.BadJSON as exc:
        return Verdict(400, f"body refused: {exc}")
    except ValueError:
        return Verdict(400, "body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return Verdict(400, "JSON body is not a Slack envelope")
    if data["type"] == "event_callback":
        event = data.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            log.debug("event callback without a usable event ignored")
            return Verdict(200, "ignored")
        item = obj(event.get("item"))
        # The installation the event is for, as Bolt reads it: in a Slack Connect channel
        # the envelope's team is the partner's, ours is in `authorizations`.
        return Accepted("event", _ids(
            team=extract_team_id(data), enterprise=extract_enterprise_id(data),
            event=event["type"], event_id=data.get("event_id"),
            channel=event.get("channel") or event.get("channel_id") or item.get("channel"),
            user=event.get("user")))
    return Accepted(data["type"], _ids(team=data.get("team_id"),
                                       enterprise=data.get("enterprise_id")))


def _check_form(text: str) -> Verdict | Accepted:
    fields = parse_qs(text, keep_blank_values=True)
    if "payload" in fields:
        try:
            payload = safe_json.loads(fields["payload"][0])
        except safe_json.BadJSON as exc:
            return Verdict(400, f"payload refused: {exc}")
        except ValueError:
            return Verdict(400, "payload is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return Verdict(400, "payload is not an interaction")
        user = payload.get("user")
        if not isinstance(user, dict) and payload["type"] != "view_closed":
            return Verdict(400, "interaction without a user")
        team, channel = payload.get("team"), payload.get("channel")
        grid = payload.get("enterprise")
        return Accepted("interaction", _ids(
            interaction=payload["type"],
            team=team.get("id") if isinstance(team, dict) else None,
            enterprise=grid.get("id") if isinstance(grid, dict) else None,
            channel=channel.get("id") if isinstance(channel, dict) else None,
            user=user.get("id") if isinstance(user, dict) else None))
    if "command" in fields:
        first = {k: v[0] for k, v in fields.items() if v}
        if not first.get("user_id"):
            return Verdict(400, "slash command without user_id")
        subcommand = (first.get("text") or "").split(maxsplit=1)[:1]
        return Accepted("command", _ids(
            command=" ".join([first["command"], *subcommand])[:40], team=first.get("team_id"),
            enterprise=first.get("enterprise_id"),
            channel=first.get("channel_id"), user=first["user_id"]))
    if fields.get("ssl_check"):
        return Accepted("ssl_check")
    return Verdict(400, "form body is neither a command nor an interaction")
