"""The aiohttp server: every route of the running bot, assembled from bot.web's modules.

HTTP mode serves `POST /slack/events` (and Bolt's OAuth pages with OAuth installs); Socket
Mode serves the same bot without it. Both serve `/healthz`, `/metrics` and, with alerts on,
the alert sources' webhooks.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from aiohttp import web

from bot.startup import StartupError
from bot.web import alerts, health, slack

if TYPE_CHECKING:
    from bot.foghorn import Foghorn

MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused (413).
HTTP_GRACE = 3.0  # seconds for requests in flight at shutdown: acks are fast


def web_app(fh: Foghorn, *, with_events: bool = True) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    slack.add_routes(app, bolt=fh.bolt, signing_secret=fh.settings.SLACK_SIGNING_SECRET or "",
                     workspaces=fh.workspaces,
                     not_an_incidents=fh.service.timeline.elsewhere, metrics=fh.metrics,
                     health=fh.health, with_events=with_events)
    if fh.alerts is not None:
        alerts.add_routes(app, intake=fh.alerts, settings=fh.settings, metrics=fh.metrics,
                          background=fh.background, clock=fh.service.clock)
    health.add_routes(app, health=fh.health, db=fh.db, playbook=fh.playbook,
                      metrics=fh.metrics, clock=fh.service.clock)
    return app


async def start_http(fh: Foghorn, port: int, *, host: str = "0.0.0.0",
                     with_events: bool = True) -> tuple[web.AppRunner, int]:
    """Start serving; return the runner and the bound port (useful with port 0)."""
    runner = web.AppRunner(web_app(fh, with_events=with_events), access_log=None,
                           shutdown_timeout=HTTP_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} is already in use (set PORT to a free one)") from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # a TCPSite has sockets once started
    return runner, bound
