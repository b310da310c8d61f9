"""The fake Slack's Socket Mode: `apps.connections.open`, the WebSocket with its hello, and
envelopes sent to the app with their acks awaited. A mixin of FakeSlack."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from bot.testing.method_base import MethodBase


class FakeSocketMode(MethodBase):
    """One Socket Mode connection at a time, as a single app instance opens."""

    port: int | None
    _socket: web.WebSocketResponse | None
    _socket_ready: asyncio.Event
    _socket_acks: dict[str, asyncio.Future[dict[str, Any]]]

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1,
                            "connection_info": {"app_id": "A0FOGHORN"},
                            "debug_info": {"host": "fake", "approximate_connection_time": 3600}})
        self._socket_ready.set()
        async for msg in ws:
            if msg.type != web.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            waiter = self._socket_acks.pop(str(data.get("envelope_id")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(data)
        self._socket_ready.clear()
        return ws

    async def socket_send(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Deliver an envelope (`slash_commands`, `interactive`, `events_api`) over the Socket
        Mode connection; return the app's ack (`{"envelope_id": ..., "payload": ...}`)."""
        async with asyncio.timeout(5):
            await self._socket_ready.wait()
            assert self._socket is not None
            envelope_id = f"env-{next(self._ids)}"
            waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._socket_acks[envelope_id] = waiter
            await self._socket.send_json({"envelope_id": envelope_id, "type": kind,
                                          "payload": payload, "accepts_response_payload": True,
                                          "retry_attempt": 0, "retry_reason": ""})
            return await waiter

    def m_apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/_socket"}
