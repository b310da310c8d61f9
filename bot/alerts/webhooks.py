"""`POST /alerts/alertmanager`: Prometheus Alertmanager's webhook receiver.

Authenticated by the bearer token Alertmanager sends (`http_config.authorization`), compared
in constant time. Answered 200 only once the notification is stored; 503 when the database
cannot store it (Alertmanager retries a 5xx, but not a 429, so Foghorn never answers 429);
400 naming the first problem of a body that is not the documented shape; 401 for a wrong or
missing token. Nothing is stored for a refused request. Served only when ALERTS_TOKEN is set.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot.alerts.payloads import PayloadError, parse_alertmanager

if TYPE_CHECKING:
    from bot.foghorn import Foghorn

log = logging.getLogger(__name__)
ALERTMANAGER_PATH = "/alerts/alertmanager"


def add_routes(app: web.Application, fh: Foghorn) -> None:
    if fh.alerts is None or not fh.settings.ALERTS_TOKEN:
        return
    token = fh.settings.ALERTS_TOKEN.encode()

    async def alertmanager(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        scheme, _, credentials = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(),
                                                                  token):
            fh.metrics.rejected.labels("alert_auth").inc()
            log.warning("refused an alert notification from %s: wrong or missing bearer token",
                        request.remote)
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            raw = await request.read()
            body = json.loads(raw)
            note = parse_alertmanager(body)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        except (json.JSONDecodeError, UnicodeDecodeError):
            fh.metrics.rejected.labels("alert_malformed").inc()
            return web.json_response({"error": "the body is not JSON"}, status=400)
        except PayloadError as exc:
            fh.metrics.rejected.labels("alert_malformed").inc()
            return web.json_response({"error": str(exc)}, status=400)
        assert fh.alerts is not None
        try:
            stored = await fh.alerts.receive("alertmanager", note, body)
        except Exception as exc:  # not stored: Alertmanager must send it again
            log.warning("could not store an alert notification: %s", exc)
            return web.json_response({"error": "cannot store it now; retry"}, status=503)
        fh.metrics.alerts.labels("alertmanager", note.status).inc()
        fh.background.spawn(fh.alerts.process_pending(), "alert")
        return web.json_response({"ok": True, "stored": stored})

    app.router.add_post(ALERTMANAGER_PATH, alertmanager)
