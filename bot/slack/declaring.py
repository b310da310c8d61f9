"""The edge of a declare, shared by `/incident declare` and the declare form.

Slack must have its answer within 3 s, and an answered declare is a promise. So the declare
is stored before the answer when the database answers in time (ACK_BUDGET); when it does not
(a lock held past SQLite's busy timeout, a failover), the answer says so, storing goes on
after it, and the outcome follows privately. Channel, card and announcement are made after
the answer; if Slack makes them wait, the person is told the incident is queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.incidents.model import Incident
from bot.incidents.service import DeclareRequest, DeclareResult
from bot.playbooks import Playbook
from bot.slack.text import escape

if TYPE_CHECKING:
    from bot.slack.edge import Edge

ACK_BUDGET = 2.0  # seconds of Slack's 3 the database may take before the answer goes out
Say = Callable[[str], Awaitable[None]]


def outcome(result: DeclareResult, playbook: Playbook | None = None) -> str:
    """What the declarer is told; with the playbook, a type the title suggests (declared
    as the default type), never chosen for them."""
    inc = result.incident
    link = f"<#{inc.channel_id}>" if inc.channel_id else None
    if result.duplicate:
        where = link or "its channel (being created right now)"
        return f"You declared this a moment ago: {inc.label} is in {where}."
    text = (f":rotating_light: {inc.label} declared as {inc.severity}: {link}\n"
            f"Take a role on the card there; post updates with `/incident update`.")
    if result.warnings:
        text += "\n" + "\n".join(f":warning: {escape(w)}" for w in result.warnings)
    hint = playbook and suggestion(playbook, inc)
    return text + (f"\n{hint}" if hint else "")


def suggestion(playbook: Playbook, inc: Incident) -> str:
    default = playbook.default_type
    guess = playbook.suggest_type(inc.title)
    if default is None or guess is None or inc.type != default.id or guess.id == default.id:
        return ""
    private = (" (private: declare a new incident with `--type "
               f"{guess.id}` for a private channel)" if guess.private and not inc.is_private
               else "")
    return (f":bulb: This sounds like a *{escape(guess.name)}* incident. If it is, "
            f"`/incident type {guess.id}` in its channel adds that type's checklists and "
            f"roles{private}.")


def slow_store_notice(title: str) -> str:
    return (f":hourglass_flowing_sand: Declaring *{escape(title)}*… Foghorn's database is "
            "slow right now; your declare is in hand and I'll confirm it here.")


async def register_promptly(edge: Edge, req: DeclareRequest
                            ) -> tuple[DeclareResult | None, asyncio.Future[DeclareResult]]:
    """Store the declare; (result, done) if it was stored within ACK_BUDGET, else
    (None, the storing still under way). UserError (bad input) is raised at once."""
    storing = asyncio.ensure_future(edge.service.register_until_stored(req))
    try:
        return await asyncio.wait_for(asyncio.shield(storing), ACK_BUDGET), storing
    except TimeoutError:
        return None, storing


async def finish(edge: Edge, storing: Awaitable[DeclareResult], say: Say) -> None:
    """Once stored: make the channel, card and announcement, then say how it went."""
    registered = await storing
    if registered.duplicate:
        await say(outcome(registered))
        return

    async def queued(inc: Incident, error: str) -> None:
        await say(f":hourglass_flowing_sand: {inc.label} is saved. Slack is holding back "
                  f"({error}), so its channel is queued and will follow on its own; I'll "
                  "confirm here.")

    result = await edge.service.complete(registered.incident, queued=queued)
    await say(outcome(result, edge.playbook))
