"""Event listeners. Every event type subscribed in manifest.yml has one here, so Bolt never
answers 404 (which Slack treats as a failure and retries).

Message, reaction and pin events are written to the database *before* the listener returns;
Bolt runs with process_before_response, so the HTTP 200 goes back only once the event is
stored: an acknowledged event is a stored event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp

from bot.incidents.timeline import ChatMessage, SharedFile, ts_micros, ts_to_datetime
from bot.slack.tenancy import origin
from bot.slack.text import obj, to_plain

if TYPE_CHECKING:
    from bot.slack.edge import Edge

log = logging.getLogger(__name__)

KEY_REACTIONS = frozenset({"pushpin", "round_pushpin"})
# Subtypes that are a person saying something; others (joins, topic changes...) are not.
HUMAN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


def chat_message(channel: str, m: dict[str, Any]) -> ChatMessage | None:
    """A person's message from a Slack message payload; None for bots and non-messages."""
    user, ts = m.get("user"), m.get("ts")
    if (not isinstance(user, str) or not isinstance(ts, str) or m.get("bot_id")
            or m.get("subtype") not in HUMAN_SUBTYPES):
        return None
    try:
        ts_micros(ts)
    except ValueError:
        return None
    files = tuple(
        SharedFile(str(f.get("name") or f.get("title") or "file"), str(f.get("permalink", "")))
        for f in m.get("files") or [] if isinstance(f, dict)
    )
    text = m.get("text")
    text = text if isinstance(text, str) else ""
    return ChatMessage(channel=channel, ts=ts, user=user, text=to_plain(text),
                       thread_ts=m.get("thread_ts"), files=files)


def register(app: AsyncApp, edge: Edge) -> None:
    timeline = edge.service.timeline

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str):
            return
        edge.background.spawn(edge.home.opened(origin(body).team_id, user), "publish-home")

    @app.event("app_uninstalled")
    async def app_uninstalled(body: dict[str, Any]) -> None:
        await edge.uninstalled(body)

    @app.event("tokens_revoked")
    async def tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        if (event.get("tokens") or {}).get("bot"):  # Foghorn uses only its bot token
            await edge.uninstalled(body)

    @app.event("message")
    async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        channel, event_id = event.get("channel"), body.get("event_id")
        if not isinstance(channel, str):
            log.debug("message event without a channel ignored")
            return
        subtype = event.get("subtype")
        inner = obj(event.get("message"))
        if subtype in CHANNEL_SUBTYPES:
            by = event.get("user") if isinstance(event.get("user"), str) else None
            if subtype == "channel_name":
                name = event.get("name")
                if isinstance(name, str) and name:
                    await edge.service.channel_changed(channel, name=name, by=by)
            else:
                await edge.service.channel_changed(
                    channel, private=subtype == "channel_convert_to_private", by=by)
        elif subtype == "message_changed" and inner.get("subtype") == "tombstone":
            # A thread parent deleted while its replies stay: Slack leaves a tombstone in
            # its place and sends it as an edit. It is a deletion.
            if _was_a_persons(channel, event) and isinstance(inner.get("ts"), str):
                await timeline.delete(channel, inner["ts"], event_id=event_id)
        elif subtype == "message_changed":
            changed = chat_message(channel, inner)
            if changed is not None:
                edited = inner.get("edited") or {}
                at = _when(edited.get("ts") or event.get("event_ts"))
                await timeline.edit(changed, edited_at=at, event_id=event_id)
        elif subtype == "message_deleted":
            ts = event.get("deleted_ts")
            if isinstance(ts, str) and _was_a_persons(channel, event):
                await timeline.delete(channel, ts, event_id=event_id)
        else:
            msg = chat_message(channel, event)
            if msg is None:
                log.debug("message event ignored (subtype %s)", subtype)
                return
            await timeline.record(msg, event_id=event_id)

    async def on_reaction(event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in KEY_REACTIONS or item.get("type") != "message":
            return
        if isinstance(item.get("channel"), str) and isinstance(item.get("ts"), str):
            await timeline.mark(item["channel"], item["ts"], f"reaction:{event.get('user')}",
                                on=event["type"] == "reaction_added",
                                event_id=body.get("event_id"))

    async def on_pin(event: dict[str, Any], body: dict[str, Any]) -> None:
        item = event.get("item") or {}
        ts = (item.get("message") or {}).get("ts")
        channel = event.get("channel_id") or item.get("channel")
        if isinstance(channel, str) and isinstance(ts, str):
            await timeline.mark(channel, ts, "pin", on=event["type"] == "pin_added",
                                event_id=body.get("event_id"))

    async def on_channel_gone(event: dict[str, Any], body: dict[str, Any]) -> None:
        channel = event.get("channel")
        if not isinstance(channel, str):
            return
        if event["type"] in ("member_left_channel", "member_joined_channel") and (
                event.get("user") != await _bot_user(edge, body)):
            return  # a person came or went: nothing to do
        if event["type"] in ("channel_unarchive", "group_unarchive", "member_joined_channel"):
            await edge.service.channel_back(channel)
        else:
            error = "not_in_channel" if event["type"] == "member_left_channel" else "is_archived"
            await edge.service.channel_gone(channel, error)

    async def on_channel_renamed(event: dict[str, Any]) -> None:
        ch = obj(event.get("channel"))
        if isinstance(ch.get("id"), str) and isinstance(ch.get("name"), str) and ch["name"]:
            await edge.service.channel_changed(ch["id"], name=ch["name"])

    async def on_channel_shared(event: dict[str, Any]) -> None:
        channel = event.get("channel")
        if isinstance(channel, str):
            # channel_unshared says whether the channel is still shared with others
            shared = (event["type"] == "channel_shared"
                      or bool(event.get("is_ext_shared")))
            await edge.service.channel_changed(channel, shared=shared)

    for name in CHANNEL_EVENTS:
        app.event(name)(on_channel_gone)
    for name in ("channel_rename", "group_rename"):
        app.event(name)(on_channel_renamed)
    for name in ("channel_shared", "channel_unshared"):
        app.event(name)(on_channel_shared)
    for name in ("reaction_added", "reaction_removed"):
        app.event(name)(on_reaction)
    for name in ("pin_added", "pin_removed"):
        app.event(name)(on_pin)


# Messages Slack posts when a channel is renamed or its privacy changes (the id stays).
CHANNEL_SUBTYPES = frozenset({"channel_name", "channel_convert_to_private",
                              "channel_convert_to_public"})
# An incident channel archived or unarchived, Foghorn removed from it or invited back.
CHANNEL_EVENTS = ("channel_archive", "group_archive", "channel_unarchive", "group_unarchive",
                  "member_left_channel", "member_joined_channel")


async def _bot_user(edge: Edge, body: dict[str, Any]) -> str:
    """Foghorn's own user id in the event's workspace (from the envelope's authorizations,
    else from auth.test)."""
    for auth in body.get("authorizations") or []:
        if isinstance(auth, dict) and auth.get("is_bot") and auth.get("user_id"):
            return str(auth["user_id"])
    return await (await edge.slack(body)).bot_user_id()


def _was_a_persons(channel: str, event: dict[str, Any]) -> bool:
    """Whether a deleted message was a person's (the only kind the timeline keeps): another
    app's message, a join or a topic change leaves nothing behind when deleted. Without
    `previous_message` it may have been, so the deletion goes ahead."""
    previous = event.get("previous_message")
    if not isinstance(previous, dict):
        return True
    return chat_message(channel, previous) is not None


def _when(ts: Any) -> datetime:
    try:
        return ts_to_datetime(str(ts))
    except (TypeError, ValueError):
        return datetime.now(UTC)
