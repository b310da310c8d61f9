"""Malformed but signed bodies are answered without a 500 and change nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Bot, BotFactory
from tests.test_alerts import TOKEN


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


DEEP = b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
LONG_NUMBER = b'{"type": "event_callback", "team_id": "T1", "n": ' + b"9" * 5000 + b"}"
DEEP_FORM = b"payload=" + b"%5B" * 50_000 + b"%5D" * 50_000


@pytest.mark.parametrize("body", [DEEP, LONG_NUMBER, DEEP_FORM])
async def test_deep_or_huge_numbers_are_refused_and_counted_on_slack_events(
        bot: Bot, body: bytes) -> None:
    """#24 item 7: JSON nested 100k levels deep or a 5,000-digit integer, signed, used to
    get a 500 with a traceback, uncounted."""
    kind = ("application/x-www-form-urlencoded" if body.startswith(b"payload")
            else "application/json")
    reply = await bot.slack.post(body, kind)
    assert reply.status == 400, reply.body
    assert "refused" in reply.body
    async with bot.session.get(f"{bot.url}/metrics") as r:
        assert 'foghorn_rejected_requests_total{reason="malformed"} 1.0' in await r.text()


@pytest.mark.parametrize("path", ["/alerts/alertmanager", "/alerts/grafana"])
@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"version": "4", "n": ' + b"1" * 5000 + b"}"])
async def test_deep_or_huge_numbers_are_refused_and_counted_on_alert_endpoints(
        make_bot: BotFactory, path: str, body: bytes) -> None:
    bot = await make_bot(ALERTS_TOKEN=TOKEN)
    async with bot.session.post(f"{bot.url}{path}", data=body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as r:
        assert r.status == 400
        assert "refused" in (await r.json())["error"]
    async with bot.session.get(f"{bot.url}/metrics") as r:
        assert 'foghorn_rejected_requests_total{reason="alert_malformed"} 1.0' in await r.text()
