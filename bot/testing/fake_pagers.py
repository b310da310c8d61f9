"""Fakes of PagerDuty's Events API v2 and Opsgenie's Alert API, answering as their documents
say, including their refusals and rate limits, so that paging is tested over real HTTP.

PagerDuty `POST /v2/enqueue`: 202 `{"status": "success", "message": "Event processed",
"dedup_key": …}`; 400 `{"status": "invalid event", "message": "Event object is invalid",
"errors": [...]}` for a missing routing key, a bad `event_action`, a trigger without
`payload.summary` / `source` / a valid `severity`, a summary over 1,024 characters, or a
resolve without `dedup_key`; 429 when rate limited. Opsgenie `POST /v2/alerts` and
`POST /v2/alerts/<alias>/close?identifierType=alias` with `Authorization: GenieKey …`: 202
`{"result": "Request will be processed", "took": …, "requestId": …}`; 401 for an unknown key;
422 for a missing or too long `message` (130) or `alias` (512); 429 when rate limited.
`fail(status, times)` makes the next calls fail (429 carries Retry-After).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PD_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class Received:
    path: str
    body: dict[str, Any]
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class _FakeService:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._faults: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._ids = itertools.count(1)

    def fail(self, status: int = 503, times: int = 1) -> None:
        self._faults += [status] * times

    async def start(self) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # a TCPSite has sockets once started
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _fault(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """The next fault asked for with `fail`, recorded like any answer; else None."""
        if not self._faults:
            return None
        status = self._faults.pop(0)
        self.received.append(Received(request.path, body, status))
        headers = {"Retry-After": "1"} if status == 429 else {}
        return web.json_response({"message": "Too Many Requests" if status == 429 else
                                  "Service Unavailable"}, status=status, headers=headers)


class FakePagerDuty(_FakeService):
    def __init__(self, routing_keys: set[str]) -> None:
        super().__init__()
        self.routing_keys = routing_keys
        self.open: dict[str, dict[str, Any]] = {}  # dedup_key → the alert triggered

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return self._record(request, {}, 400, ["Body is not valid JSON"])
        fault = self._fault(request, body)
        if fault is not None:
            return fault
        errors = _pd_errors(body, self.routing_keys)
        if errors:
            return self._record(request, body, 400, errors)
        key = body.get("dedup_key") or uuid.uuid4().hex
        if body["event_action"] == "trigger":
            self.open[key] = body
        elif body["event_action"] == "resolve":
            self.open.pop(key, None)
        self.received.append(Received(request.path, body, 202))
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": key}, status=202)

    def _record(self, request: web.Request, body: dict[str, Any], status: int,
                errors: list[str]) -> web.Response:
        self.received.append(Received(request.path, body, status))
        return web.json_response({"status": "invalid event",
                                  "message": "Event object is invalid", "errors": errors},
                                 status=status)


def _pd_errors(body: dict[str, Any], keys: set[str]) -> list[str]:
    errors = []
    if body.get("routing_key") not in keys:
        errors.append("'routing_key' is invalid")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    if action in ("acknowledge", "resolve") and not body.get("dedup_key"):
        errors.append("'dedup_key' is missing")
    if len(str(body.get("dedup_key") or "")) > 255:
        errors.append("'dedup_key' is too long")
    if action == "trigger":
        payload = body.get("payload") or {}
        summary = str(payload.get("summary") or "")
        if not summary:
            errors.append("'payload.summary' is missing or blank")
        if len(summary) > 1024:
            errors.append("'payload.summary' is too long")
        if not payload.get("source"):
            errors.append("'payload.source' is missing or blank")
        if payload.get("severity") not in PD_SEVERITIES:
            errors.append("'payload.severity' is invalid (expected one of critical, error, "
                          "warning, info)")
    return errors


class FakeOpsgenie(_FakeService):
    def __init__(self, keys: set[str]) -> None:
        super().__init__()
        self.keys = keys
        self.open: dict[str, dict[str, Any]] = {}  # alias → the alert

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/alerts", self._create)
        app.router.add_post("/v2/alerts/{identifier}/close", self._close)

    def _answer(self, request: web.Request, body: dict[str, Any], status: int,
                extra: dict[str, Any] | None = None) -> web.Response:
        self.received.append(Received(request.path, body, status))
        answer = {"took": 0.01, "requestId": str(uuid.uuid4()), **(extra or {})}
        return web.json_response(answer, status=status)

    def _refused(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """A fault asked for, or a missing or unknown GenieKey (401)."""
        fault = self._fault(request, body)
        if fault is not None:
            return fault
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme != "GenieKey" or key not in self.keys:
            return self._answer(request, body, 401, {"message": "Could not authenticate"})
        return None

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refused(request, body)
        if refused is not None:
            return refused
        message, alias = str(body.get("message") or ""), str(body.get("alias") or "")
        errors = {}
        if not message.strip():
            errors["message"] = "Message can not be empty."
        elif len(message) > 130:
            errors["message"] = "Message can not be longer than 130 characters."
        if len(alias) > 512:
            errors["alias"] = "Alias can not be longer than 512 characters."
        if errors:
            return self._answer(request, body, 422, {
                "message": "Request body is not processable. Please check the errors.",
                "errors": errors})
        self.open[alias or str(next(self._ids))] = body
        return self._answer(request, body, 202, {"result": "Request will be processed"})

    async def _close(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refused(request, body)
        if refused is not None:
            return refused
        if request.query.get("identifierType") != "alias":
            return self._answer(request, body, 422, {"message": "identifierType is invalid"})
        self.open.pop(request.match_info["identifier"], None)
        return self._answer(request, body, 202, {"result": "Request will be processed"})
