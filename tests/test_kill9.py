"""SIGKILL of a real `python -m bot` right after it acknowledged an event: nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from bot.store import repo
from bot.store.db import Database
from bot.testing.fake_slack import FakeSlack
from bot.testing.slack_requests import SlackSender
from tests.conftest import ALICE, BOB, GENERAL, ROOT, SECRET
from tests.test_startup import _free_port


async def _start(fake: FakeSlack, db_url: str, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKEN": "xoxb-k", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url, "DATABASE_URL": db_url, "PORT": str(port),
            "PLAYBOOKS_DIR": str(ROOT / "playbooks")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("bot did not start")


async def test_sigkill_right_after_acks_loses_no_event(fake: FakeSlack, tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    port = _free_port()
    proc = await _start(fake, db_url, port)
    async with aiohttp.ClientSession() as session:
        slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
        await slack.command("declare sev1 Kill me", user=ALICE, channel=GENERAL)
        for _ in range(100):
            if fake.calls_to("pins.add"):
                break
            await asyncio.sleep(0.05)
        channel = next(c for c in fake.channels.values() if c.name.endswith("kill-me"))
        acked = []
        for i in range(20):
            msg, reply = await slack.say(channel.id, BOB, f"message {i}")
            assert reply.status == 200
            acked.append(msg.ts)
    proc.send_signal(signal.SIGKILL)  # no shutdown of any kind
    await proc.wait()

    db = Database(db_url)
    async with db.read() as s:
        inc = await repo.get_by_channel(s, channel.id)
        assert inc is not None
        stored = [e.slack_ts for e in await repo.list_entries(s, inc.id) if e.slack_ts]
    await db.close()
    assert stored == acked
