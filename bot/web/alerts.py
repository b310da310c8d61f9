"""The alert sources' webhooks, on Foghorn's own server:

- `POST /alerts/alertmanager`: Prometheus Alertmanager, with the bearer token Alertmanager
  sends (`http_config.authorization`), ALERTS_TOKEN.
- `POST /alerts/grafana`: Grafana's webhook contact point, with that bearer token or
  Grafana's HMAC signature (ALERTS_SIGNING_SECRET; hex HMAC-SHA256 of the body, or of
  `timestamp:body` when GRAFANA_TIMESTAMP_HEADER is set, then within 5 minutes).
- `POST /alerts/webhook`: anything else, in Foghorn's minimal schema, signed with
  `X-Foghorn-Signature: sha256=<hex HMAC-SHA256 of "<X-Foghorn-Timestamp>.<body>">`
  (ALERTS_SIGNING_SECRET; the timestamp, unix seconds, within 5 minutes), or of the body
  alone from older senders.

A signed request is stored once: delivered again (a replay, a retry) within a day, it is
answered 200 `duplicate` and counted, and nothing is stored.

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
from typing import Any

from aiohttp import web

from bot import safe_json
from bot.alerts.intake import AlertIntake
from bot.alerts.payloads import (
    Notification,
    PayloadError,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
)
from bot.background import Background
from bot.config import Settings
from bot.incidents.model import Clock
from bot.metrics import Metrics

log = logging.getLogger(__name__)
ALERTMANAGER_PATH = "/alerts/alertmanager"
GRAFANA_PATH = "/alerts/grafana"
GENERIC_PATH = "/alerts/webhook"
GENERIC_SIGNATURE = "X-Foghorn-Signature"
GENERIC_TIMESTAMP = "X-Foghorn-Timestamp"
GENERIC_DELIVERY = "X-Foghorn-Delivery"
REPLAY_WINDOW = 300  # seconds a signed timestamp stays valid


_warned: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        log.warning("%s", text)


def bearer_ok(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


def hmac_hex(secret: str, data: bytes) -> str:
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


# What a source's check says of a request: refused (None), or accepted with the key a replay
# of it would have (NO_KEY where the source is trusted by a bearer token, not a signature).
NO_KEY = ""
Check = Callable[[web.Request, bytes], str | None]


def delivery_key(*signed: bytes) -> str:
    return hashlib.sha256(b"\0".join(signed)).hexdigest()


def add_routes(app: web.Application, *, intake: AlertIntake, settings: Settings,
               metrics: Metrics, background: Background, clock: Clock) -> None:
    s = settings

    def fresh(stamp: str) -> bool:
        return stamp.isdigit() and abs(time.time() - int(stamp)) <= REPLAY_WINDOW

    def grafana_ok(request: web.Request, raw: bytes) -> str | None:
        if bearer_ok(request, s.ALERTS_TOKEN):
            return NO_KEY
        if not s.ALERTS_SIGNING_SECRET:
            return None
        signed = raw
        if s.GRAFANA_TIMESTAMP_HEADER:
            stamp = request.headers.get(s.GRAFANA_TIMESTAMP_HEADER, "")
            if not fresh(stamp):
                return None
            signed = f"{stamp}:".encode() + raw
        given = request.headers.get(s.GRAFANA_SIGNATURE_HEADER, "").strip().lower()
        if not hmac.compare_digest(given, hmac_hex(s.ALERTS_SIGNING_SECRET, signed)):
            return None
        return delivery_key(signed)

    def generic_ok(request: web.Request, raw: bytes) -> str | None:
        """`sha256=` HMAC of `<X-Foghorn-Timestamp>.<body>` (refused outside 5 minutes),
        or, from senders that send no timestamp, of the body alone. A replay is stored
        once: its key is the sender's X-Foghorn-Delivery id, else what was signed."""
        if not s.ALERTS_SIGNING_SECRET:
            return None
        stamp = request.headers.get(GENERIC_TIMESTAMP)
        if stamp is not None and not fresh(stamp.strip()):
            return None
        signed = raw if stamp is None else f"{stamp.strip()}.".encode() + raw
        given = request.headers.get(GENERIC_SIGNATURE, "").strip().lower()
        if not hmac.compare_digest(given, "sha256=" + hmac_hex(s.ALERTS_SIGNING_SECRET,
                                                                signed)):
            return None
        if stamp is None:
            _warn_once("a generic webhook sender signs no timestamp: its requests can be "
                       f"replayed (each is stored once a day at most); send {GENERIC_TIMESTAMP}"
                       " and sign '<timestamp>.<body>'")
        sender_id = request.headers.get(GENERIC_DELIVERY, "").strip()
        return delivery_key(sender_id.encode()) if sender_id else delivery_key(signed)

    def endpoint(source: str, authorized: Check, parse: Callable[[Any], Notification]
                 ) -> Any:
        async def receive(request: web.Request) -> web.Response:
            try:
                raw = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return web.json_response({"error": "body too large"}, status=413)
            key = authorized(request, raw)
            if key is None:
                metrics.rejected.labels("alert_auth").inc()
                log.warning("refused a %s notification from %s: wrong or missing token or "
                            "signature", source, request.remote)
                return web.json_response({"error": "unauthorized"}, status=401)
            try:
                note = parse(safe_json.loads(raw))
            except safe_json.BadJSON as exc:
                metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": f"the body is refused: {exc}"},
                                         status=400)
            except (json.JSONDecodeError, UnicodeDecodeError):
                metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": "the body is not JSON"}, status=400)
            except PayloadError as exc:
                metrics.rejected.labels("alert_malformed").inc()
                return web.json_response({"error": str(exc)}, status=400)
            try:
                stored = await intake.receive(source, note, delivery=key or None)
            except Exception as exc:  # not stored: the source must send it again
                log.warning("could not store a %s notification: %s", source, exc)
                return web.json_response({"error": "cannot store it now; retry"}, status=503)
            if stored is None:  # this very request was taken already
                metrics.rejected.labels("alert_replayed").inc()
                log.info("a %s notification delivered again was ignored", source)
                return web.json_response({"ok": True, "duplicate": True})
            metrics.alerts.labels(source, note.status).inc()
            background.spawn(intake.process_pending(), "alert")
            return web.json_response({"ok": True, "stored": stored})

        return receive

    if s.ALERTS_TOKEN:
        app.router.add_post(ALERTMANAGER_PATH, endpoint(
            "alertmanager", lambda r, _: NO_KEY if bearer_ok(r, s.ALERTS_TOKEN) else None,
            parse_alertmanager))
    app.router.add_post(GRAFANA_PATH, endpoint("grafana", grafana_ok, parse_grafana))
    if s.ALERTS_SIGNING_SECRET:
        app.router.add_post(GENERIC_PATH, endpoint(
            "webhook", generic_ok, lambda body: parse_generic(body, clock())))
