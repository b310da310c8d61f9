"""Catch-up after downtime: store what was said in incident channels while Foghorn was away.

For each open incident: the channel's history since the newest stored message
(`conversations.history`, paginated), plus new replies (`conversations.replies`) in threads
started in that window, threads already known to have replies, and the newest stored
messages' threads. Slack's history does not flag an older message that gained replies, so a
reply to an old, quiet message posted during the downtime can be missed; checking every old
thread would cost one rate-limited call each. The timeline's message key makes anything
already stored a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.background import Background
from bot.incidents.errors import ChatError
from bot.incidents.model import Incident
from bot.incidents.timeline import Timeline, ts_micros
from bot.slack.events import chat_message
from bot.slack.gateway import SlackGateway

if TYPE_CHECKING:
    from bot.incidents.service import IncidentService
    from bot.slack.workspaces import Workspaces

log = logging.getLogger(__name__)

PAGE = 200
CONCURRENT_CHANNELS = 4
RATE_LIMIT_MINUTE = 65.0  # seconds after app_rate_limited before catching up


async def catch_up_all(service: IncidentService, workspaces: Workspaces,
                       background: Background) -> None:
    """Start storing what was said in every open incident's channel that we missed (after
    downtime, a database outage, or Slack holding events back), one task per workspace."""
    by_team: dict[tuple[str, str | None], list[Incident]] = {}
    for inc in await service.list_open(include_private=True):
        where = (inc.team_id, inc.enterprise_id) if workspaces.multi else ("", None)
        by_team.setdefault(where, []).append(inc)
    for (team_id, enterprise_id), incidents in by_team.items():
        gateway = await workspaces.gateway(team_id, enterprise_id)
        if gateway is not None:
            background.spawn(catch_up(gateway, service.timeline, incidents), "catch-up")


async def catch_up_after(delay: float, service: IncidentService, workspaces: Workspaces,
                         background: Background) -> None:
    """Catch up once Slack delivers events again: `app_rate_limited` holds back the rest of
    the minute it names."""
    await asyncio.sleep(delay)
    await catch_up_all(service, workspaces, background)


async def catch_up(gateway: SlackGateway, timeline: Timeline, incidents: list[Incident]) -> int:
    """Store missed messages of every open incident (a few channels at a time, to stay
    gentle with Slack's rate limits); return how many were new."""
    slots = asyncio.Semaphore(CONCURRENT_CHANNELS)

    async def one(inc: Incident) -> int:
        async with slots:
            try:
                return await _catch_up_one(gateway, timeline, inc)
            except ChatError as exc:
                log.warning("catch-up of %s stopped: %s", inc.label, exc)
                return 0

    return sum(await asyncio.gather(*(one(i) for i in incidents if i.channel_id)))


async def _pages(gateway: SlackGateway, method: str, **args: object) -> list[dict]:
    return [m async for m in gateway.pages(method, "messages", limit=PAGE, **args)]


def _order_ts(ts: str) -> int:
    try:
        return ts_micros(ts)
    except ValueError:
        return 0


def _order(message: dict) -> int:
    ts = message.get("ts")
    return _order_ts(ts) if isinstance(ts, str) else 0


async def _catch_up_one(gateway: SlackGateway, timeline: Timeline, inc: Incident) -> int:
    assert inc.channel_id
    # From where history was last known complete, not from the newest stored message: a
    # message can be acknowledged but not stored while its channel is not yet linked to the
    # incident (a crash mid-declare), and later messages must not hide that gap.
    oldest = inc.history_synced_ts or f"{inc.declared_at.timestamp() - 60:.6f}"
    history = await _pages(gateway, "conversations.history", channel=inc.channel_id,
                           oldest=oldest)
    roots = await timeline.thread_roots(inc.id)
    roots |= {m["ts"] for m in history if m.get("reply_count") and isinstance(m.get("ts"), str)}
    for root in sorted(roots, key=_order_ts):
        try:
            replies = await _pages(gateway, "conversations.replies", channel=inc.channel_id,
                                   ts=root, oldest=oldest)
        except ChatError as exc:  # e.g. thread_not_found: its parent was deleted
            log.info("catch-up of %s skipped one thread: %s", inc.label, exc)
            continue
        history += [m for m in replies if m.get("ts") != root]
    stored = 0
    for raw in sorted(history, key=_order):
        if raw.get("subtype") == "tombstone" and isinstance(raw.get("ts"), str):
            await timeline.delete(inc.channel_id, raw["ts"])  # deleted while we were away
            continue
        msg = chat_message(inc.channel_id, raw)
        if msg is not None and await timeline.record(msg):
            stored += 1
    stamps = [m["ts"] for m in history if isinstance(m.get("ts"), str)]
    if stamps:
        await timeline.synced(inc.id, max(stamps, key=_order_ts))
    if stored:
        log.info("caught up %d message(s) in %s", stored, inc.label)
    return stored
