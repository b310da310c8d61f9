"""`POST /slack/events` (slash commands, interactivity and events, every request checked by
`slack.guard` before Bolt sees it) and Bolt's OAuth pages.

Every request gets one log line and one ack-latency sample. Refused requests (unsigned,
forged, stale, malformed, too large, another workspace's) are counted by reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.logs import bind, unbind_all
from bot.logs import context as log_context
from bot.metrics import Metrics
from bot.slack import guard
from bot.slack.workspaces import INSTALL_PATH, REDIRECT_PATH, Workspaces
from bot.web.health import Health

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Refused requests, counted by reason in foghorn_rejected_requests_total.
_REJECTION = {401: "signature", 413: "too_large"}


def add_routes(app: web.Application, *, bolt: AsyncApp, signing_secret: str,
               workspaces: Workspaces, not_an_incidents: Callable[[str], bool],
               metrics: Metrics, health: Health, with_events: bool = True) -> None:
    """`not_an_incidents`: whether a channel is known not to be an incident's (its message
    events, most of the traffic of a busy workspace, are answered without Bolt or the
    database). Whose request it is is decided in Bolt's middleware (bot.slack.tenancy), the
    same for HTTP and Socket Mode."""

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, "body too large")
        verdict = guard.check(raw, request.headers, signing_secret)
        if isinstance(verdict, guard.Verdict):
            if verdict.status == 200:
                bind(kind="ignored")
                return web.Response(status=200)
            return refuse(request, verdict.status, verdict.reason)
        bind(kind=verdict.kind, **verdict.ids)
        if verdict.kind == "event" and verdict.ids.get("event") == "message" and (
                not_an_incidents(verdict.ids.get("channel", ""))):
            return web.Response(status=200)  # only the timeline listens to messages
        if verdict.kind == "event" and workspaces.multi and (await workspaces.gateway(
                verdict.ids.get("team", ""), verdict.ids.get("enterprise")) is None):
            # A stray event from a workspace that uninstalled (or never installed) Foghorn:
            # nothing to do, and an error answer would only make Slack send it again.
            bind(kind="ignored")
            log.info("event from a workspace without an installation ignored")
            return web.Response(status=200)
        bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]  # Bolt takes any mapping
        # A request no listener takes is answered 200 by tenancy's error handler (Bolt's
        # 404 would only make Slack deliver it again), over this transport and Socket Mode.
        response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(response)

    def refuse(request: web.Request, status: int, reason: str) -> web.Response:
        health.rejected_requests += 1
        metrics.rejected.labels(_REJECTION.get(status, "malformed")).inc()
        log.warning("refused a request from %s: %s (%d so far)", request.remote, reason,
                    health.rejected_requests)
        return web.json_response({"error": reason}, status=status)

    async def timed(request: web.Request) -> web.StreamResponse:
        """Every Slack request: one log line and one ack-latency sample."""
        started = time.perf_counter()
        unbind_all()
        response = await slack_events(request)
        took = time.perf_counter() - started
        ctx = log_context()
        metrics.ack_seconds.labels(ctx.get("kind", "refused")).observe(took)
        log.info("%s answered %d in %.1f ms", ctx.get("command") or ctx.get("event")
                 or ctx.get("interaction") or ctx.get("kind", "request"), response.status,
                 took * 1000, extra={"status": response.status, "ack_ms": round(took * 1000, 2)})
        return response

    async def oauth(request: web.Request) -> web.StreamResponse:
        """Bolt's OAuth flow: the install page and Slack's redirect back with a code."""
        flow = bolt.oauth_flow
        assert flow is not None
        bolt_request = AsyncBoltRequest(body="", query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]  # Bolt takes any mapping
        if request.path == INSTALL_PATH:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)

    if with_events:
        app.router.add_post(EVENTS_PATH, timed)
    if bolt.oauth_flow is not None:
        app.router.add_get(INSTALL_PATH, oauth)
        app.router.add_get(REDIRECT_PATH, oauth)
