"""Malformed but signed bodies are answered without a 500 and change nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Bot


@pytest.mark.parametrize(("body", "content_type"), [
    (b"{not json", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'{"type": "event_callback", "event": "nope"}', "application/json"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
    (b"command=%2Fincident", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/octet-stream"),
])
async def test_malformed_signed_body(bot: Bot, body: bytes, content_type: str) -> None:
    reply = await bot.slack.post(body, content_type)
    assert reply.status < 500, (body, reply.status, reply.body)
    await bot.settle()
    assert await bot.open_incidents() == []
