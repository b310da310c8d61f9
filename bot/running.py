"""Starting and stopping the running bot: finishing what a crash left (declares, missed
messages, reactions, alert notifications) before reporting ready, and shutting down within
SHUTDOWN_BUDGET on SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.foghorn import Foghorn
from bot.incidents.errors import ChatError
from bot.slack import catchup as catch_up
from bot.slack import declaring

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET = 9.0  # seconds from SIGTERM to exit: in-flight requests, then background work


async def finish_startup(fh: Foghorn) -> None:
    """Complete declares a crash interrupted (telling each declarer), store what was said in
    incident channels while we were down, then report ready."""
    results = await fh.service.resume_unfinished()
    for result in results:
        inc = result.incident
        log.info("finished the interrupted declare of %s", inc.label)
        try:
            gateway = await fh.workspaces.require(inc.team_id, inc.enterprise_id)
            await gateway.tell(inc.origin_channel_id, inc.declared_by, declaring.outcome(result))
        except ChatError as exc:
            log.warning("could not tell %s about %s: %s", inc.declared_by, inc.label, exc)
    await fh.service.timeline.forget_old_events()
    if not fh.workspaces.multi and fh.gateway.client.token:
        try:  # which workspace this token serves, asked now rather than on a first request
            me = await fh.gateway.identity()
            # Incidents stored before Slack said (alerts while it was down, older versions)
            # belong to this token's one workspace.
            adopted = await fh.service.adopt_unteamed(str(me.get("team_id") or ""),
                                                      me.get("enterprise_id"))
            if adopted:
                log.info("%d incident(s) without a workspace now belong to %s", adopted,
                         me.get("team_id"))
        except ChatError as exc:
            log.warning("could not ask Slack which workspace the token belongs to: %s", exc)
    if fh.schedule:
        await fh.dispatcher.start()  # fires what fell due while we were down, once
    # Catching up costs a history call per open incident: never let it hold up reminders
    # or readiness. Also when the database takes writes again after failing: events Slack
    # sent meanwhile were answered 500 and may never come again.
    await catch_up_all(fh)
    # Reactions a crash or a failure left undone (pages not sent, posts not made), then
    # every few seconds whatever is due.
    if fh.schedule:
        await fh.relay.start()
    else:
        fh.relay.poke()
    if fh.alerts is not None:  # notifications stored but not processed before a crash
        fh.alerts.start(watch=fh.schedule)

    def recovered() -> None:  # what Slack sent while writes failed: fetched from history
        fh.background.spawn(catch_up_all(fh), "catch-up")

    fh.db.health.on_recovered = recovered
    fh.health.ready = True


async def catch_up_all(fh: Foghorn) -> None:
    """Start storing what was said in every open incident's channel that we missed."""
    await catch_up.catch_up_all(fh.service, fh.workspaces, fh.background)


async def shutdown(fh: Foghorn, runner: web.AppRunner | None) -> None:
    """Stop taking requests, let in-flight work finish (within SHUTDOWN_BUDGET), close the
    database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_BUDGET
    fh.health.ready = False
    if runner is not None:
        await runner.cleanup()
    await fh.dispatcher.stop(max(0.5, deadline - loop.time()))
    await fh.relay.stop()
    if fh.alerts is not None:
        await fh.alerts.stop()
    await fh.background.cancel_kept()
    if not await fh.background.drain(max(0.5, deadline - loop.time())):
        log.warning("shutting down with %d task(s) unfinished; the next start resumes them",
                    fh.background.pending)
        await fh.background.cancel_all()
    await fh.workspaces.close()
    if fh.pager is not None:
        await fh.pager.close()
    await fh.db.close()
