"""Builds Foghorn's parts and the Bolt app: the wiring, and nothing else.

Starting and stopping are in bot.running, the HTTP routes in bot.web (both re-exported here
for the callers that build the bot); Socket Mode runs the same listeners through Bolt's
`AsyncSocketModeHandler`.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize

from bot import reactions, startup
from bot.alerts.changes import AlertChanges
from bot.alerts.intake import AlertIntake
from bot.background import Background
from bot.config import Settings
from bot.dispatcher import Dispatcher, dispatcher_owner
from bot.foghorn import Foghorn
from bot.incidents.model import Clock, utcnow
from bot.incidents.service import IncidentService
from bot.logs import install_redaction
from bot.metrics import Metrics
from bot.outbox import Relay
from bot.paging.setup import build_pager, check_pagers
from bot.playbooks import (
    active_file,
    load_playbooks,
    playbook_warnings,
)
from bot.running import SHUTDOWN_BUDGET, finish_startup, shutdown
from bot.slack import actions, alert_actions, commands, events, tenancy
from bot.slack.alert_posts import AlertPoster
from bot.slack.blocks import Presenter
from bot.slack.catchup import RATE_LIMIT_MINUTE, catch_up_after
from bot.slack.edge import Edge, scope_for
from bot.slack.gateway import SlackGateway, make_client
from bot.slack.home import HomeTabs
from bot.slack.publisher import SlackPublisher
from bot.slack.reactions import SlackReactions
from bot.slack.workspaces import (
    PerWorkspaceChat,
    Workspaces,
    installation_store,
    oauth_settings,
    token_authorize,
)
from bot.startup import StartupError
from bot.store.opening import DatabaseProblem, open_database
from bot.web.alerts import ALERTMANAGER_PATH, GENERIC_PATH, GRAFANA_PATH
from bot.web.health import Health
from bot.web.server import start_http

log = logging.getLogger(__name__)

# Where the bot is started and stopped (bot.running) and served (bot.web.server), for the
# callers that build it.
__all__ = ["SHUTDOWN_BUDGET", "build", "finish_startup", "shutdown", "start_http"]


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
    workspaces = Workspaces(settings, metrics, gateway, store, db)

    def publisher(gw: SlackGateway) -> SlackPublisher:
        return SlackPublisher(gw, presenter, db, settings.INCIDENTS_CHANNEL)

    chat = publisher(gateway) if store is None else PerWorkspaceChat(workspaces, publisher)
    background = Background()
    health = Health(slack_answered=slack_answered)
    owner = dispatcher_owner()
    relay = Relay(db, background, owner=owner, clock=clock)
    pager = build_pager(settings, playbook, db, chat, relay, clock)
    # The dispatcher fires reminders through the service, which wakes the dispatcher when
    # reminder rows change: the first refers to the second by name, resolved at call time.
    dispatcher = Dispatcher(db, lambda r: service.fire_reminder(r), clock=clock, owner=owner,
                            on_sent=lambda r, at: metrics.reminder_sent(r.kind, r.due_at, at))
    service = IncidentService(db, playbook, chat, tz=settings.tz, clock=clock,  # type: ignore[arg-type]  # PerWorkspaceChat forwards every ChatPort method
                              events=relay, reactions=relay, pager=pager,
                              reminders_changed=dispatcher.poke)
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
        # Requests no listener takes reach tenancy's error handler, which acknowledges them
        # over both transports.
        raise_error_for_unhandled_request=True,
        **oauth,
    )
    relay.on_outcome = metrics.delivery
    home = HomeTabs(service, presenter, background, workspaces.gateway,
                    partial(scope_for, workspaces.multi))
    alerts, alert_posts = None, []
    if settings.alerts_on and store is None:
        poster = AlertPoster(gateway, presenter, settings.INCIDENTS_CHANNEL)
        alerts = AlertIntake(db, playbook, service, poster, gateway.bot_user_id, background,
                             clock=clock,
                             team=lambda: str(gateway.known_identity.get("team_id") or ""))
        alert_posts = [alerts.subscriber(), AlertChanges(
            db, service, poster, gateway.bot_user_id, clock=clock).subscriber()]
    relay.subscribe(reactions.subscribers(
        service, SlackReactions(service, presenter, chat, home), pager, alert_posts,
        metrics))
    edge = Edge(service, presenter, playbook, background, workspaces, home, alerts)
    # Bolt tries listeners in the order they were added, and each try costs; message events
    # are most of an incident's traffic, so their listeners go first.
    events.register(bolt, edge)
    commands.register(bolt, edge)
    actions.register(bolt, edge)
    alert_actions.register(bolt, edge)

    tenancy.register(bolt, identity=(lambda: gateway.known_identity) if store is None else None,
                     metrics=metrics, health=health, learn=workspaces.learn if store else None,
                     on_rate_limited=lambda: background.keep(
                         catch_up_after(RATE_LIMIT_MINUTE, service, workspaces, background),
                         "catch-up"))
    return Foghorn(settings, playbook, db, gateway, presenter, service, background, bolt,
                   dispatcher, metrics, workspaces, relay, health,
                   edge, alerts=alerts, pager=pager,
                   alerts_said=alerts_state(settings, alerts is not None), schedule=schedule)


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
