"""What every benchmark shares: the fake Slack in this process, the real bot in another."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import aiohttp

    from bot.testing.fake_slack import BOT_USER_ID, INCIDENTS_CHANNEL_ID, FakeSlack
    from bot.testing.slack_requests import SlackSender
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"bench: missing dependency ({exc.name}); run `make setup` first")

USER, CHANNEL = "UBENCH", "C0BENCH"


@dataclass
class Running:
    fake: FakeSlack
    slack: SlackSender
    url: str
    session: aiohttp.ClientSession
    pid: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    return f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}"


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process,
                        session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            sys.exit(f"bench: the bot exited during start-up (code {proc.returncode})")
        try:
            async with session.get(f"{url}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    sys.exit("bench: the bot did not become healthy within 60 s")


@asynccontextmanager
async def running_bot(database_url: str | None = None, fake: FakeSlack | None = None
                      ) -> AsyncIterator[Running]:
    """Start the fake Slack here and `python -m bot run` (HTTP mode) in a subprocess."""
    fake = fake or FakeSlack()
    fake.add_user(USER, "bench")
    fake.add_channel("bench", channel_id=CHANNEL, members={USER})
    fake.channels[INCIDENTS_CHANNEL_ID].members.add(BOT_USER_ID)
    await fake.start()
    port, secret = free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": secret,
               "SLACK_API_URL": fake.url, "PORT": str(port),
               "DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
               "PLAYBOOKS_DIR": str(ROOT / "playbooks")}
        env.pop("SLACK_APP_TOKEN", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await _wait_healthy(url, proc, session)
                slack = SlackSender(url, secret, fake, session)
                await slack.command("help", user=USER, channel=CHANNEL)  # Bolt's auth.test
                yield Running(fake, slack, url, session, proc.pid)
        finally:
            if proc.returncode is None:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 15)
            await fake.stop()


async def until(done: Callable[[], bool], seconds: float = 60, poll: float = 0.002) -> None:
    """Wait until `done()` holds (the fake records calls; polling it is the honest way)."""
    async with asyncio.timeout(seconds):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(poll)


async def wait_for_calls(fake: FakeSlack, method: str, count: int) -> None:
    """Wait until `method` has been answered successfully `count` times."""
    await until(lambda: len([c for c in fake.calls_to(method) if c.status == 200]) >= count)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
