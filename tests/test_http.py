"""The HTTP edge: signatures, health, help, malformed requests, App Home."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from bot.slack import blocks
from tests.conftest import ALICE, GENERAL, Bot


async def test_forged_signature_is_refused_and_nothing_happens(bot: Bot) -> None:
    body = urlencode({"command": "/incident", "text": "declare sev1 Forged", "user_id": ALICE,
                      "channel_id": GENERAL, "team_id": "T0FOGHORN",
                      "response_url": bot.fake.response_url(), "trigger_id": "t"}).encode()
    reply = await bot.slack.post(body, "application/x-www-form-urlencoded",
                                 secret="not-the-signing-secret")
    assert reply.status == 401
    await bot.settle()
    assert bot.fake.calls_to("conversations.create") == []
    assert await bot.open_incidents() == []


async def test_stale_timestamp_is_refused(bot: Bot) -> None:
    body = urlencode({"command": "/incident", "text": "declare sev1 Replayed",
                      "user_id": ALICE, "channel_id": GENERAL}).encode()
    reply = await bot.slack.post(body, "application/x-www-form-urlencoded",
                                 timestamp=int(time.time()) - 6 * 60)
    assert reply.status == 401
    await bot.settle()
    assert await bot.open_incidents() == []


async def test_healthz_reports_ready(bot: Bot) -> None:
    async with bot.slack.session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200
        assert (await resp.json()) == {"ok": True, "playbook": "Default",
                                       "rejected_requests": 0, "alerts_waiting": 0,
                                       "alerts_oldest_seconds": 0.0, "alerts_parked": 0}
    bot.fh.health.ready = False
    async with bot.slack.session.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 503


async def test_help_and_unknown_subcommand(bot: Bot) -> None:
    help_text = await bot.command("help")
    for sub in ("declare", "role", "severity", "update", "resolve", "list"):
        assert f"`/incident {sub}" in help_text
    assert await bot.command("") == help_text
    unknown = await bot.command("explode <!channel>")
    assert unknown.startswith("I don't know `explode`.") and help_text not in unknown
    assert "`/incident help` lists every command" in unknown and "<!channel>" not in unknown


async def test_body_over_one_megabyte_is_refused(bot: Bot) -> None:
    body = urlencode({"command": "/incident", "text": "x" * (1024 * 1024 + 10)}).encode()
    reply = await bot.slack.post(body, "application/x-www-form-urlencoded")
    assert reply.status == 413


async def test_app_home_lists_open_incidents_with_a_declare_button(bot: Bot) -> None:
    inc, _ = await bot.declare("sev2 Home visible")
    reply = await bot.slack.event({"type": "app_home_opened", "user": ALICE, "tab": "home",
                                   "channel": "D0HOME", "event_ts": f"{time.time():.6f}"})
    assert reply.status == 200
    await bot.settle()
    home = bot.fake.home_views[ALICE]
    text = str(home["blocks"])
    assert f"<#{inc.channel_id}>" in text and "Home visible" in text
    assert blocks.DECLARE_BUTTON in text

    reply = await bot.slack.block_action_home(user=ALICE, action_id=blocks.DECLARE_BUTTON)
    assert reply.status == 200
    await bot.settle()
    [opened] = bot.fake.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == blocks.DECLARE_MODAL
