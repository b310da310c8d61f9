"""An alert storm through the real Prometheus Alertmanager into a real `python -m bot`, with a
SIGKILL of the bot in the middle, for bench/alert_storm.py and tests/test_alert_storm.py.

Alertmanager's webhook goes through a timing proxy that records how long the bot took to
answer each notification (the proxy answers 502 while the bot is down, as a load balancer
would; Alertmanager retries). Afterwards the database is read: incidents created, alert
groups, duplicates (more than one incident for a group) and notifications left unprocessed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, text

from bot.testing.alertmanager import alertmanager
from bot.testing.fake_slack import FakeSlack
from bot.testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "storm-token-" + "0" * 20


@dataclass
class StormResult:
    alerts: int
    groups: int
    acks_ms: list[float] = field(default_factory=list)  # 2xx answers from the bot
    refused: int = 0  # answered 5xx (the bot down, or not stored): retried by Alertmanager
    incidents: int = 0
    groups_with_incident: int = 0
    duplicates: int = 0
    unprocessed: int = 0
    killed_at: float | None = None
    settled_after: float = 0.0


async def _bot(fake: FakeSlack, db_url: str, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALERTS_"))}
    env |= {"SLACK_BOT_TOKEN": "xoxb-storm", "SLACK_SIGNING_SECRET": secrets.token_hex(16),
            "SLACK_API_URL": fake.url, "DATABASE_URL": db_url, "PORT": str(port),
            "PLAYBOOKS_DIR": str(ROOT / "playbooks"), "ALERTS_TOKEN": TOKEN,
            "LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with aiohttp.ClientSession() as s:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return proc
            await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError("the bot did not start")


async def _proxy(bot_port: int, result: StormResult) -> tuple[web.AppRunner, int]:
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        started = time.perf_counter()
        try:
            async with session.post(f"http://127.0.0.1:{bot_port}{request.path}", data=body,
                                    headers={"Authorization": request.headers.get(
                                        "Authorization", ""),
                                        "Content-Type": "application/json"}) as r:
                answer = await r.read()
                took = (time.perf_counter() - started) * 1000
                if r.status < 300:
                    result.acks_ms.append(took)
                else:
                    result.refused += 1
                return web.Response(status=r.status, body=answer)
        except aiohttp.ClientError:
            result.refused += 1
            return web.Response(status=502, text="the bot is down")

    app = web.Application()
    app.router.add_post("/alerts/alertmanager", forward)
    app.on_cleanup.append(lambda _: session.close())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def run_storm(workdir: Path, *, alerts: int = 500, groups: int = 20,
                    seconds: float = 10.0, kill_at: float | None = 5.0,
                    settle_within: float = 90.0) -> StormResult:
    result = StormResult(alerts=alerts, groups=groups)
    fake = FakeSlack()
    await fake.start()
    db_url = f"sqlite+aiosqlite:///{workdir / 'storm.db'}"
    bot_port = free_port()
    bot = await _bot(fake, db_url, bot_port)
    proxy, proxy_port = await _proxy(bot_port, result)
    try:
        async with alertmanager(workdir, f"http://127.0.0.1:{proxy_port}/alerts/alertmanager",
                                TOKEN) as am_url, aiohttp.ClientSession() as s:
            started = time.monotonic()
            starts = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
            batches = max(1, int(seconds / 0.25))
            per = [alerts // batches + (1 if i < alerts % batches else 0)
                   for i in range(batches)]
            sent = 0
            for i, count in enumerate(per):
                body = [{"labels": {"alertname": f"Storm{(sent + k) % groups:02d}",
                                    "severity": "critical", "instance": f"host-{sent + k}"},
                         "annotations": {"summary": f"Storm group {(sent + k) % groups}"},
                         "startsAt": starts} for k in range(count)]
                async with s.post(f"{am_url}/api/v2/alerts", json=body) as r:
                    assert r.status == 200, await r.text()
                sent += count
                if kill_at is not None and result.killed_at is None and \
                        time.monotonic() - started >= kill_at:
                    bot.send_signal(signal.SIGKILL)  # mid-storm, no warning
                    await bot.wait()
                    result.killed_at = time.monotonic() - started
                    bot = await _bot(fake, db_url, bot_port)  # the same address again
                await asyncio.sleep(max(0.0, (i + 1) * seconds / batches
                                        - (time.monotonic() - started)))
            deadline = time.monotonic() + settle_within
            while time.monotonic() < deadline:
                _read(workdir / "storm.db", result)
                if result.groups_with_incident >= groups and result.unprocessed == 0:
                    break
                await asyncio.sleep(0.5)
            result.settled_after = time.monotonic() - started
            await asyncio.sleep(2)  # a late duplicate would show now
            _read(workdir / "storm.db", result)
    finally:
        if bot.returncode is None:
            bot.terminate()
            await bot.wait()
        await proxy.cleanup()
        await fake.stop()
    return result


def _read(db: Path, result: StormResult) -> None:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        result.incidents = c.execute(text("SELECT count(*) FROM incidents")).scalar() or 0
        result.groups_with_incident = c.execute(text(
            "SELECT count(DISTINCT group_hash) FROM alert_groups WHERE incident_id IS NOT NULL"
        )).scalar() or 0
        result.duplicates = c.execute(text(
            "SELECT count(*) - count(DISTINCT title) FROM incidents")).scalar() or 0
        result.unprocessed = c.execute(text(
            "SELECT count(*) FROM alert_notifications WHERE processed_at IS NULL")).scalar() or 0
    engine.dispose()
