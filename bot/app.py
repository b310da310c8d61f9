"""Builds Foghorn's parts, the Bolt app and the aiohttp web app, and runs them.

HTTP mode serves `POST /slack/events` (slash commands, interactivity and events, every request
signature-checked by Bolt) and `GET /healthz`. Socket Mode runs the same listeners through
Bolt's `AsyncSocketModeHandler` and serves only `/healthz`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import reactions, startup
from bot.alerts import webhooks as alert_webhooks
from bot.alerts.intake import AlertIntake
from bot.alerts.webhooks import ALERTMANAGER_PATH, GENERIC_PATH, GRAFANA_PATH
from bot.background import Background
from bot.config import Settings
from bot.dispatcher import Dispatcher, dispatcher_owner
from bot.foghorn import Foghorn
from bot.incidents.errors import ChatError
from bot.incidents.model import Clock, Incident, utcnow
from bot.incidents.service import IncidentService
from bot.logs import bind, install_redaction, unbind_all
from bot.logs import context as log_context
from bot.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from bot.metrics import Metrics
from bot.outbox import Relay
from bot.paging.setup import build_pager, check_pagers
from bot.playbooks import (
    active_file,
    load_playbooks,
    playbook_warnings,
)
from bot.slack import actions, alert_actions, commands, declaring, events, guard
from bot.slack.alert_posts import AlertPoster
from bot.slack.blocks import Presenter
from bot.slack.catchup import catch_up
from bot.slack.gateway import SlackGateway, make_client
from bot.slack.home import HomeTabs
from bot.slack.publisher import SlackPublisher
from bot.slack.reactions import SlackReactions
from bot.slack.workspaces import (
    INSTALL_PATH,
    REDIRECT_PATH,
    PerWorkspaceChat,
    Workspaces,
    installation_store,
    oauth_settings,
    token_authorize,
)
from bot.startup import StartupError
from bot.store import alert_rows, outbox_rows, repo
from bot.store.opening import DatabaseProblem, open_database

log = logging.getLogger(__name__)

# Refused requests, counted by reason in foghorn_rejected_requests_total.
_REJECTION = {401: "signature", 413: "too_large"}
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; anything bigger is refused (413).
SHUTDOWN_BUDGET = 9.0  # seconds from SIGTERM to exit: in-flight requests, then background work
HTTP_GRACE = 3.0  # acks are fast; what remains of the budget goes to the background work


OTHER_WORKSPACE = ("This Foghorn belongs to another Slack workspace, so it did nothing here. "
                   "Ask your Slack admin to install Foghorn in this workspace.")


async def build(settings: Settings, *, clock: Clock = utcnow, schedule: bool = True
                ) -> Foghorn:
    """Load the playbook, open and migrate the database, check the token and the channels
    with Slack, and wire the app. Raises StartupError, PlaybookError or ConfigError with a
    one-line message, having closed whatever it opened."""
    install_redaction([settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET,
                       settings.SLACK_APP_TOKEN, settings.SLACK_CLIENT_SECRET,
                       settings.ALERTS_TOKEN, settings.ALERTS_SIGNING_SECRET])
    playbook = load_playbooks(settings.playbooks_dir)
    for warning in playbook_warnings(playbook):
        log.warning("playbook: %s", warning)
    check_pagers(settings, playbook)
    try:
        db = await open_database(settings.DATABASE_URL, settings.DATABASE_TIMEOUT)
    except DatabaseProblem as exc:
        raise StartupError(str(exc)) from None
    metrics = Metrics()
    client = make_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL, metrics=metrics)
    gateway = SlackGateway(client, metrics)
    slack_answered = True
    try:
        if client.token:
            slack_answered = await startup.check_token(gateway)
            if slack_answered:
                await startup.check_targets(gateway, playbook,
                                            active_file(settings.playbooks_dir),
                                            settings.INCIDENTS_CHANNEL)
    except BaseException:  # a refused token, a missing channel, or a signal
        await gateway.close()
        await db.close()
        raise
    presenter = Presenter(playbook, settings.tz)
    store = installation_store(settings, db) if settings.multi_workspace else None
    workspaces = Workspaces(settings, metrics, gateway, store)

    def publisher(gw: SlackGateway) -> SlackPublisher:
        return SlackPublisher(gw, presenter, db, settings.INCIDENTS_CHANNEL)

    chat = publisher(gateway) if store is None else PerWorkspaceChat(workspaces, publisher)
    background = Background()
    owner = dispatcher_owner()
    relay = Relay(db, background, owner=owner, clock=clock)
    service = IncidentService(db, playbook, chat, tz=settings.tz, clock=clock,  # type: ignore[arg-type]  # PerWorkspaceChat forwards every ChatPort method
                              events=relay, reactions=relay)
    pager = build_pager(settings, playbook, db, chat, relay, clock)
    if pager is not None:
        service.pager = pager
    # Token mode: Bolt is told who we are from start-up's auth.test, instead of asking
    # Slack on the first request (a declare must be stored and answered whether Slack is
    # up or not).
    oauth: dict[str, Any] = {"authorize": token_authorize(gateway)}
    if store is not None:
        oauth = {"oauth_settings": oauth_settings(settings, db, store),
                 "installation_store": store,
                 # auth.test once per token, not once per request
                 "authorize": AsyncInstallationStoreAuthorize(
                     installation_store=store, client_id=settings.SLACK_CLIENT_ID,
                     client_secret=settings.SLACK_CLIENT_SECRET, cache_enabled=True,
                     client=client, logger=logging.getLogger("slack_bolt"))}
    bolt = AsyncApp(
        client=client,
        # Bolt reads SLACK_BOT_TOKEN itself and warns that `client` wins: it holds that token.
        logger=_bolt_logger(),
        signing_secret=settings.SLACK_SIGNING_SECRET or "",
        request_verification_enabled=not settings.socket_mode,
        # Listeners ack first and hand slow work to `Background`, so Bolt can answer as soon
        # as the listener returns instead of polling for the ack.
        process_before_response=True,
        **oauth,
    )
    dispatcher = Dispatcher(db, service.fire_reminder, clock=clock, owner=owner)
    service.reminders_changed = dispatcher.poke
    service.declared = lambda inc: metrics.incident_declared(inc)
    dispatcher.on_sent = lambda r, at: metrics.reminder_sent(r.kind, r.due_at, at)
    relay.on_outcome = metrics.delivery
    fh = Foghorn(settings, playbook, db, gateway, presenter, service, background, bolt,
                 dispatcher, metrics, workspaces, relay, schedule=schedule)
    fh.slack_answered = slack_answered
    fh.pager = pager
    fh.home = HomeTabs(service, presenter, background, workspaces.gateway, fh.scope)
    alert_posts = None
    if settings.alerts_on and store is None:
        poster = AlertPoster(gateway, presenter, settings.INCIDENTS_CHANNEL)
        fh.alerts = AlertIntake(db, playbook, service, poster, gateway.bot_user_id,
                                background, clock=clock)
        alert_posts = fh.alerts.subscriber()
    relay.subscribe(reactions.subscribers(
        service, SlackReactions(service, presenter, chat, fh.home), pager, alert_posts))
    fh.alerts_said = alerts_state(settings, fh.alerts is not None)
    # Bolt tries listeners in the order they were added, and each try costs; message events
    # are most of an incident's traffic, so their listeners go first.
    events.register(bolt, fh)
    commands.register(bolt, fh)
    actions.register(bolt, fh)
    alert_actions.register(bolt, fh)

    @bolt.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed: %s", error, exc_info=error)

    return fh


def web_app(fh: Foghorn, *, with_events: bool = True) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, "body too large")
        verdict = guard.check(raw, request.headers, fh.settings.SLACK_SIGNING_SECRET or "")
        if isinstance(verdict, guard.Verdict):
            if verdict.status == 200:
                bind(kind="ignored")
                return web.Response(status=200)
            return refuse(request, verdict.status, verdict.reason)
        bind(kind=verdict.kind, **verdict.ids)
        if verdict.kind == "event" and fh.workspaces.multi and (
                await fh.workspaces.gateway(verdict.ids.get("team", "")) is None):
            # A stray event from a workspace that uninstalled (or never installed) Foghorn:
            # nothing to do, and an error answer would only make Slack send it again.
            bind(kind="ignored")
            log.info("event from a workspace without an installation ignored")
            return web.Response(status=200)
        if not fh.workspaces.multi and not fh.serves(verdict.ids):
            return elsewhere(request, verdict.kind)
        bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]
        response = await fh.bolt.async_dispatch(bolt_request)
        body = bolt_request.body
        if response.status == 404 and isinstance(body, dict) and (
                body.get("type") == "event_callback"):
            # A signed event no listener matched (malformed, or of no interest): answering
            # 404 would only make Slack deliver it again.
            log.debug("unhandled event ignored")
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    def elsewhere(request: web.Request, kind: str) -> web.Response:
        """A request from a workspace this token does not belong to (token mode serves one
        workspace): nothing is done. 200 so Slack does not deliver it again; a command
        gets a line saying why."""
        fh.rejected_requests += 1
        fh.metrics.rejected.labels("other_workspace").inc()
        log.warning("refused a %s from another workspace (this token serves one workspace)",
                    kind)
        if kind == "command":
            return web.json_response({"response_type": "ephemeral", "text": OTHER_WORKSPACE})
        return web.Response(status=200)

    def refuse(request: web.Request, status: int, reason: str) -> web.Response:
        fh.rejected_requests += 1
        fh.metrics.rejected.labels(_REJECTION.get(status, "malformed")).inc()
        log.warning("refused a request from %s: %s (%d so far)", request.remote, reason,
                    fh.rejected_requests)
        return web.json_response({"error": reason}, status=status)

    async def timed(request: web.Request) -> web.StreamResponse:
        """Every Slack request: one log line and one ack-latency sample."""
        started = time.perf_counter()
        unbind_all()
        response = await slack_events(request)
        took = time.perf_counter() - started
        ctx = log_context()
        fh.metrics.ack_seconds.labels(ctx.get("kind", "refused")).observe(took)
        log.info("%s answered %d in %.1f ms", ctx.get("command") or ctx.get("event")
                 or ctx.get("interaction") or ctx.get("kind", "request"), response.status,
                 took * 1000, extra={"status": response.status, "ack_ms": round(took * 1000, 2)})
        return response

    async def healthz(_request: web.Request) -> web.Response:
        if not fh.slack_answered:
            return web.json_response({"ok": False, "reason": "waiting for Slack"}, status=503)
        if not fh.ready:
            return web.json_response({"ok": False, "reason": "starting"}, status=503)
        try:
            await fh.db.ping()
        except Exception as exc:
            # The detail (host names, driver messages) goes to the log, not to whoever asks.
            log.warning("healthz: the database does not answer: %s", exc)
            return web.json_response({"ok": False, "reason": "database unavailable"},
                                     status=503)
        problem = fh.db.health.problem()
        if problem is not None:
            log.warning("healthz: %s", problem)
            return web.json_response({"ok": False, "reason": "database writes failing"},
                                     status=503)
        async with fh.db.read() as s:
            waiting, oldest, parked = await alert_rows.waiting(s, fh.service.clock())
        return web.json_response({"ok": True, "playbook": fh.playbook.name,
                                  "rejected_requests": fh.rejected_requests,
                                  "alerts_waiting": waiting,
                                  "alerts_oldest_seconds": round(oldest, 1),
                                  "alerts_parked": parked})

    async def metrics(_request: web.Request) -> web.Response:
        try:
            async with fh.db.read() as s:
                counts = await repo.open_counts(s)
            fh.metrics.set_open(counts, [sev.id for sev in fh.playbook.severities],
                                [t.id for t in fh.playbook.types])
            async with fh.db.read() as s:
                now = fh.service.clock()
                fh.metrics.set_outbox(await outbox_rows.counts(s, now))
                fh.metrics.set_alerts_waiting(*await alert_rows.waiting(s, now))
        except Exception as exc:  # the other figures are still worth having
            log.warning("metrics: could not read the database's figures: %s", exc)
        return web.Response(body=fh.metrics.render(),
                            headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def oauth(request: web.Request) -> web.StreamResponse:
        """Bolt's OAuth flow: the install page and Slack's redirect back with a code."""
        flow = fh.bolt.oauth_flow
        assert flow is not None
        bolt_request = AsyncBoltRequest(body="", query=request.query_string,
                                        headers=request.headers)  # type: ignore[arg-type]
        if request.path == INSTALL_PATH:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)

    if with_events:
        app.router.add_post("/slack/events", timed)
    if fh.bolt.oauth_flow is not None:
        app.router.add_get(INSTALL_PATH, oauth)
        app.router.add_get(REDIRECT_PATH, oauth)
    alert_webhooks.add_routes(app, fh)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
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
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound


async def finish_startup(fh: Foghorn) -> None:
    """Complete declares a crash interrupted (telling each declarer), store what was said in
    incident channels while we were down, then report ready."""
    results = await fh.service.resume_unfinished()
    for result in results:
        inc = result.incident
        log.info("finished the interrupted declare of %s", inc.label)
        try:
            await (await fh.slack(inc.team_id)).tell(inc.origin_channel_id, inc.declared_by,
                                                     declaring.outcome(result))
        except ChatError as exc:
            log.warning("could not tell %s about %s: %s", inc.declared_by, inc.label, exc)
    await fh.service.timeline.forget_old_events()
    if not fh.workspaces.multi and fh.gateway.client.token:
        try:  # which workspace this token serves, asked now rather than on a first request
            await fh.gateway.identity()
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
    fh.db.health.on_recovered = lambda: fh.background.spawn(catch_up_all(fh), "catch-up")
    fh.ready = True


async def catch_up_all(fh: Foghorn) -> None:
    """Start storing what was said in every open incident's channel that we missed."""
    by_team: dict[str, list[Incident]] = {}
    for inc in await fh.service.list_open(include_private=True):
        by_team.setdefault(inc.team_id if fh.workspaces.multi else "", []).append(inc)
    for team_id, incidents in by_team.items():
        gateway = await fh.workspaces.gateway(team_id)
        if gateway is not None:
            fh.background.spawn(catch_up(gateway, fh.service.timeline, incidents), "catch-up")


async def shutdown(fh: Foghorn, runner: web.AppRunner | None) -> None:
    """Stop taking requests, let in-flight work finish (within SHUTDOWN_BUDGET), close the
    database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SHUTDOWN_BUDGET
    fh.ready = False
    if runner is not None:
        await runner.cleanup()
    await fh.dispatcher.stop(max(0.5, deadline - loop.time()))
    await fh.relay.stop()
    if fh.alerts is not None:
        await fh.alerts.stop()
    if not await fh.background.drain(max(0.5, deadline - loop.time())):
        log.warning("shutting down with %d task(s) unfinished; the next start resumes them",
                    fh.background.pending)
        await fh.background.cancel_all()
    if fh.alerts is not None:
        await fh.alerts.close(max(0.5, deadline - loop.time()))
    await fh.workspaces.close()
    if fh.pager is not None:
        await fh.pager.close()
    await fh.db.close()


def alerts_state(settings: Settings, on: bool) -> str:
    """What start-up says of alerts, once it is serving."""
    if on:
        paths = [p for p, on in ((ALERTMANAGER_PATH, settings.ALERTS_TOKEN),
                                 (GRAFANA_PATH, True),
                                 (GENERIC_PATH, settings.ALERTS_SIGNING_SECRET)) if on]
        return "alerts on: POST " + ", ".join(paths)
    if settings.alerts_on:
        return ("alerts are off: OAuth installs serve many workspaces, and alerts need one "
                "(use SLACK_BOT_TOKEN)")
    return "alerts are off (set ALERTS_TOKEN to receive Alertmanager's webhooks)"


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _NotTokenUnused) for f in logger.filters):
        logger.addFilter(_NotTokenUnused())
    return logger


class _NotTokenUnused(logging.Filter):
    """Bolt's "`token` will be unused" and "will be ignored" warnings are about
    SLACK_BOT_TOKEN, which it reads from the environment though our client (and our
    authorize) already hold it: not a problem to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "`token` will be unused" not in text and "will be ignored" not in text
