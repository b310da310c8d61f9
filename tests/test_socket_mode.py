"""Socket Mode: the same listeners, reached over the fake Slack's WebSocket."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.app import build, finish_startup, shutdown, start_http
from bot.config import load_settings
from bot.serve import connect_socket_mode
from bot.testing.fake_slack import FakeSlack
from tests.conftest import ALICE, GENERAL, ROOT


async def test_declare_over_socket_mode(fake: FakeSlack, tmp_path: Path) -> None:
    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-test", SLACK_API_URL=fake.url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 's.db'}", PLAYBOOKS_DIR=ROOT / "playbooks")
    fh = await build(settings)
    runner, port = await start_http(fh, 0, host="127.0.0.1", with_events=False)
    handler = await connect_socket_mode(fh)
    await finish_startup(fh)
    try:
        ack = await fake.socket_send("slash_commands", {
            "team_id": "T0FOGHORN", "channel_id": GENERAL, "user_id": ALICE,
            "command": "/incident", "text": "declare sev2 Socket incident",
            "response_url": fake.response_url(), "trigger_id": fake.new_trigger_id(),
        })
        assert "Declaring" in ack["payload"]["text"]
        assert await fh.background.drain(within=10)
        [channel] = [c for c in fake.channels.values() if c.name.endswith("socket-incident")]
        assert channel.pins and ALICE in channel.members
        assert fake.calls_to("apps.connections.open")[0].args["token"] == "xapp-test"
        # In Socket Mode nothing is served at /slack/events: it would be unsigned.
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/slack/events", data=b"{}") as r:
                assert r.status in (404, 405)
            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
    finally:
        await handler.close_async()
        await shutdown(fh, runner)
