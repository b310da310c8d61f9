"""The alert sources' webhooks, on Foghorn's own server:

- `POST /alerts/alertmanager`: Prometheus Alertmanager, with the bearer token Alertmanager
  sends (`http_config.authorization`), ALERTS_TOKEN.
- `POST /alerts/grafana`: Grafana's webhook contact point, with that bearer token or
  Grafana's HMAC signature (ALERTS_SIGNING_SECRET; hex HMAC-SHA256 of the body, or of
  `timestamp:body` when GRAFANA_TIMESTAMP_HEADER is set, then within 5 minutes).
- `POST /alerts/webhook`: anything else, in Foghorn's minimal schema, signed with
  `X-Foghorn-Signature: sha256=<hex HMAC-SHA256 of the body>` (ALERTS_SIGNING_SECRET).

Every comparison is in constant time. Answered 200 only once the notification is stored;
503 when the database cannot store it (Alertmanager retries a 5xx but not a 429, so Foghorn
never answers 429); 400 naming the first problem of a body that is not the documented shape;
401 for a wrong or missing token or signature. Nothing is stored for a refused request. A
source whose secret is not set answers 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot import safe_json
from bot.alerts.payloads import (
    Notification,
    PayloadError,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
)

if TYPE_CHECKING:
    from bot.foghorn import Foghorn

log = logging.getLogger(__name__)
ALERTMANAGER_PATH = "/alerts/alertmanager"
GRAFANA_PATH = "/alerts/grafana"
GENERIC_PATH = "/alerts/webhook"
GENERIC_SIGNATURE = "X-Foghorn-Signature"
REPLAY_WINDOW = 300  # seconds a signed timestamp stays valid


def bearer_ok(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


def hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def add_routes(app: web.Application, fh: Foghorn) -> None:
    if fh.alerts is None:
        return
    s = fh.settings

    def grafana_ok(request: web.Request, raw: bytes) -> bool:
        if bearer_ok(request, s.ALERTS_TOKEN):
            return True
        if not s.ALERTS_SIGNING_SECRET:
            return False
        signed = raw
        if s.GRAFANA_TIMESTAMP_HEADER:
            stamp = request.headers.get(s.GRAFANA_TIMESTAMP_HEADER, "")
            if not stamp.isdigit() or abs(time.time() - int(stamp)) > REPLAY_WINDOW:
                return False
            signed = f"{stamp}:".encode() + raw
        given = request.headers.get(s.GRAFANA_SIGNATURE_HEADER, "").strip().lower()
        return hmac.compare_digest(given, hmac_hex(s.ALERTS_SIGNING_SECRET, signed))

    def generic_ok(request: web.Request, raw: bytes) -> bool:
        if not s.ALERTS_SIGNING_SECRET:
            return False
        given = request.headers.get(GENERIC_SIGNATURE, "").strip().lower()
        expected = "sha256=" + hmac_hex(s.ALERTS_SIGNING_SECRET, raw)
        return hmac.compare_digest(given, expected)

    def endpoint(source: str, authorized: Callable[[web.Request, bytes], bool],
                 parse: Callable[[Any], Notification]) -> Any:
        async def receive(request: web.Request) -> web.Response:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return web.json_response({"error": "body too large"}, status=413)
            if not authorized(request, raw):
                fh.metrics.rejected.labels("alert_auth").inc()
                log.warning("refused a %s notification from %s: wrong or missing token or "
                            "signature", source, request.remote)
                return web.json_response({"error": "unauthorized"}, status=401)
            try:
                note = parse(safe_json.loads(raw))
            except safe_json.BadJSON as exc:
                fh.metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": f"the body is refused: {exc}"},
                                         status=400)
            except (json.JSONDecodeError, UnicodeDecodeError):
                fh.metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": "the body is not JSON"}, status=400)
            except PayloadError as exc:
                fh.metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": str(exc)}, status=400)
            assert fh.alerts is not None
            try:
                stored = await fh.alerts.receive(source, note)
            except Exception as exc:  # not stored: the source must send it again
                log.warning("could not store a %s notification: %s", source, exc)
                return web.json_response({"error": "cannot store it now; retry"}, status=503)
            fh.metrics.alerts.labels(source, note.status).inc()
            fh.background.spawn(fh.alerts.process_pending(), "alert")
            return web.json_response({"ok": True, "stored": stored})

        return receive

    if s.ALERTS_TOKEN:
        app.router.add_post(ALERTMANAGER_PATH, endpoint(
            "alertmanager", lambda r, _: bearer_ok(r, s.ALERTS_TOKEN), parse_alertmanager))
    app.router.add_post(GRAFANA_PATH, endpoint("grafana", grafana_ok, parse_grafana))
    if s.ALERTS_SIGNING_SECRET:
        app.router.add_post(GENERIC_PATH, endpoint(
            "webhook", generic_ok, lambda body: parse_generic(body, fh.service.clock())))
