"""`GET /healthz` and `GET /metrics`.

/healthz answers 503 while Slack has not answered start-up's auth.test, while starting, and
while the database does not answer or its writes fail (the detail goes to the log, never to
whoever asks); else 200 with the playbook, refused requests and the alert intake's backlog.
/metrics reads the figures that every replica must report alike from the database at scrape
time (open incidents, the outbox's and the alert intake's backlog).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from bot.incidents.model import Clock
from bot.metrics import CONTENT_TYPE, Metrics
from bot.playbooks import Playbook
from bot.store import alert_rows, outbox_rows, repo
from bot.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class Health:
    """What the process knows of its own state (set by start-up and the Slack route)."""

    ready: bool = False
    # Slack has answered auth.test (or there is no single token to ask about).
    slack_answered: bool = True
    rejected_requests: int = 0  # unsigned, forged, stale or malformed requests refused


def add_routes(app: web.Application, *, health: Health, db: Database, playbook: Playbook,
               metrics: Metrics, clock: Clock) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        if not health.slack_answered:
            return web.json_response({"ok": False, "reason": "waiting for Slack"}, status=503)
        if not health.ready:
            return web.json_response({"ok": False, "reason": "starting"}, status=503)
        try:
            await db.ping()
            async with db.read() as s:
                waiting, oldest, parked = await alert_rows.waiting(s, clock())
        except Exception as exc:  # said once per outage (store.outage)
            db.outage.failed(exc, "health check")
            return web.json_response({"ok": False, "reason": "database unavailable"},
                                     status=503)
        db.outage.ok()
        problem = db.health.problem()
        if problem is not None:  # logged by WriteHealth when it starts and ends
            log.debug("healthz: %s", problem)
            return web.json_response({"ok": False, "reason": "database writes failing"},
                                     status=503)
        return web.json_response({"ok": True, "playbook": playbook.name,
                                  "rejected_requests": health.rejected_requests,
                                  "alerts_waiting": waiting,
                                  "alerts_oldest_seconds": round(oldest, 1),
                                  "alerts_parked": parked})

    async def scrape(_request: web.Request) -> web.Response:
        try:
            async with db.read() as s:
                counts = await repo.open_counts(s)
                now = clock()
                outbox = await outbox_rows.counts(s, now)
                alerts = await alert_rows.waiting(s, now)
            metrics.set_open(counts, [sev.id for sev in playbook.severities],
                             [t.id for t in playbook.types])
            metrics.set_outbox(outbox)
            metrics.set_alerts_waiting(*alerts)
        except Exception as exc:  # the other figures are still worth having
            db.outage.failed(exc, "metrics")
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
