"""Foghorn as a real process, for the tests of start-up, signals and operator commands.

The fake Slack runs in the test's event loop, so processes are awaited with asyncio rather
than blocked on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.testing.fake_slack import FakeSlack
from bot.testing.ports import free_port

__all__ = ["Running", "foghorn", "free_port", "start", "token_env"]

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(
        ("SLACK_", "DATABASE_", "PORT", "PLAYBOOKS_", "LOG_", "INCIDENTS_"))}
    return {**clean, **extra}


async def foghorn(env: dict[str, str], *args: str, limit: float = 60, cwd: Path = ROOT
                  ) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=_env(**env), cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def token_env(fake: FakeSlack, tmp_path: Path) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-good-token-1234", "SLACK_SIGNING_SECRET": "s" * 32,
            "SLACK_API_URL": fake.url, "PORT": str(free_port()),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db"}


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc, self.port = proc, port

    async def health(self) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as s, s.get(
                f"http://127.0.0.1:{self.port}/healthz", timeout=aiohttp.ClientTimeout(2)) as r:
            return r.status, await r.json()

    async def until_health(self, status: int, within: float = 30) -> dict:
        deadline = time.monotonic() + within
        while True:
            try:
                got, body = await self.health()
                if got == status:
                    return body
            except (aiohttp.ClientError, TimeoutError):
                pass
            assert self.proc.returncode is None, "foghorn exited"
            assert time.monotonic() < deadline, f"/healthz never answered {status}"
            await asyncio.sleep(0.2)

    async def stop(self, sig: int = signal.SIGTERM, within: float = 12) -> tuple[int, str]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        out, _ = await asyncio.wait_for(self.proc.communicate(), within)
        assert time.monotonic() - started < within
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode()


@pytest.fixture
async def start() -> AsyncIterator:
    procs: list[asyncio.subprocess.Process] = []

    async def run(env: dict[str, str], *args: str) -> Running:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *(args or ("run",)), env=_env(**env), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        procs.append(proc)
        return Running(proc, int(env.get("PORT", "3000")))

    yield run
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


