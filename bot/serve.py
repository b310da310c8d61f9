"""`foghorn run`: start, serve until SIGTERM or SIGINT, stop within the shutdown budget.

A signal always stops the process: while starting (a Slack or a database that does not
answer, a Socket Mode connection being retried) it abandons the start at once; while serving
it stops taking requests and lets in-flight work finish (`app.shutdown`). Whatever was opened
is closed in every case.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

from bot import startup
from bot.app import SHUTDOWN_BUDGET, build, finish_startup, shutdown, start_http
from bot.config import Settings
from bot.foghorn import Foghorn

log = logging.getLogger(__name__)


def socket_mode_handler(fh: Foghorn) -> AsyncSocketModeHandler:
    return AsyncSocketModeHandler(fh.bolt, fh.settings.SLACK_APP_TOKEN)


async def connect_socket_mode(fh: Foghorn) -> AsyncSocketModeHandler:
    """Receive Slack's requests over Socket Mode (the app-level token's WebSocket)."""
    handler = socket_mode_handler(fh)
    await handler.connect_async()
    return handler


SWITCH_INTERVAL = 0.001  # seconds


async def run(settings: Settings) -> int:
    """Serve until a signal; the exit status (2 when Slack refuses the token later on)."""
    settings.require_slack()
    # Work done in threads (the SQLite driver's, a postmortem draft being built) hands the
    # interpreter back to the event loop every 1 ms instead of every 5: acks stay fast.
    sys.setswitchinterval(SWITCH_INTERVAL)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    stop = asyncio.Event()
    state = {"serving": False, "status": 0}

    def on_signal() -> None:
        stop.set()
        if not state["serving"] and main is not None:
            main.cancel()  # still starting: give up the start now

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)

    async def refused_later(exc: startup.StartupError) -> None:
        print(f"foghorn: {exc}", file=sys.stderr)
        state["status"] = 2
        stop.set()

    fh: Foghorn | None = None
    runner: web.AppRunner | None = None
    socket_handler: AsyncSocketModeHandler | None = None
    waiter: asyncio.Task[None] | None = None
    try:
        if settings.socket_mode:
            await startup.check_app_token(settings)
        fh = await build(settings)
        runner, port = await start_http(fh, settings.PORT, with_events=not settings.socket_mode)
        if settings.socket_mode:
            socket_handler = socket_mode_handler(fh)  # closed below even if never connected
            await socket_handler.connect_async()
            log.info("connected to Slack in Socket Mode; /healthz on port %d", port)
        else:
            log.info("listening on port %d (POST /slack/events, GET /healthz)", port)
        log.info("%s", startup.summary(fh.settings, fh.playbook.name,
                                       fh.gateway.known_identity, fh.workspaces.multi))
        log.info("%s", fh.alerts_said)
        if fh.alerts is not None and settings.ALERTS_SIGNING_SECRET and (
                not settings.GRAFANA_TIMESTAMP_HEADER):
            log.warning("Grafana's HMAC signature is checked without its timestamp, so a "
                        "captured request can be replayed (each is stored once a day at "
                        "most): set GRAFANA_TIMESTAMP_HEADER as in Grafana's contact point")
        await finish_startup(fh)
        if not fh.health.slack_answered:
            answered = fh

            def now_answered() -> None:
                answered.health.slack_answered = True

            waiter = asyncio.create_task(startup.wait_for_slack(
                fh.gateway, now_answered, refused_later))
        state["serving"] = True
        if not stop.is_set():
            await stop.wait()
        log.info("shutting down")
    except asyncio.CancelledError:
        log.info("stopped while starting")
    finally:
        if waiter is not None:
            waiter.cancel()
        await _close(fh, runner, socket_handler)
    return int(state["status"])


async def _close(fh: Foghorn | None, runner: web.AppRunner | None,
                 socket_handler: AsyncSocketModeHandler | None) -> None:
    async def close() -> None:
        if socket_handler is not None:
            await socket_handler.close_async()
        if fh is not None:
            await shutdown(fh, runner)
        elif runner is not None:
            await runner.cleanup()

    try:
        await asyncio.wait_for(close(), SHUTDOWN_BUDGET + 1)
    except TimeoutError:
        log.warning("shutdown took longer than %gs; stopping anyway", SHUTDOWN_BUDGET)
