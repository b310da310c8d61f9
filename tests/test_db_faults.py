"""The database failing under a running bot: a silent PostgreSQL, a full disk.

Each failure must cost a bounded wait and a 5xx (Slack delivers the event again), turn
/healthz to 503, and heal by itself; what Slack sent meanwhile is fetched back from its
history when writes work again (before: the group writer hung for good behind one stuck
ping while /healthz said 200; disk-full errors left /healthz at 200; events answered 500
came back only at the next restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.store import entry_rows
from bot.testing.tcp_proxy import TcpProxy
from tests.conftest import BOB, Bot, BotFactory


async def _health(bot: Bot) -> int:
    async with bot.session.get(f"{bot.url}/healthz") as r:
        return r.status


async def _texts(bot: Bot, incident_id: int) -> list[str]:
    async with bot.fh.db.read() as s:
        return [e.text for e in await entry_rows.list_entries(s, incident_id) if e.slack_ts]


async def _heals(bot: Bot, incident_id: int, said: list[str], within: float = 30.0) -> None:
    """/healthz turns 200 again by itself, and everything `said` (answered 500 during the
    fault) ends up stored: Slack's own retries, or the catch-up after recovery."""
    deadline = time.monotonic() + within
    while True:
        texts = await _texts(bot, incident_id)
        if await _health(bot) == 200 and all(t in texts for t in said):
            return
        missing = [t[:20] for t in said if t not in texts]
        assert time.monotonic() < deadline, f"not healed: /healthz or {missing}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def pg_proxy(pg_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    url = make_url(pg_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    yield proxy, url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    await proxy.stop()


async def test_a_silent_postgresql_costs_bounded_failures_and_heals(
        make_bot: BotFactory, pg_proxy: tuple[TcpProxy, str]) -> None:
    proxy, url = pg_proxy
    bot = await make_bot(database_url=url, DATABASE_TIMEOUT="2")
    inc, _ = await bot.declare("sev2 Network trouble")
    await bot.slack.say(inc.channel_id, BOB, "before")
    proxy.blackhole()
    replies = []
    for text in ("during one", "during two", "during three"):
        started = time.monotonic()
        _, reply = await bot.slack.say(inc.channel_id, BOB, text)
        replies.append((reply.status, time.monotonic() - started))
    assert all(status >= 500 for status, _ in replies), replies
    assert all(took < 10 for _, took in replies), replies  # bounded, and none waits forever
    assert await _health(bot) == 503
    proxy.restore()
    _, reply = await bot.slack.say(inc.channel_id, BOB, "after")
    assert reply.status == 200

    await _heals(bot, inc.id, ["during one", "during two", "during three", "after"])


@contextlib.contextmanager
def _small_disk(where: Path) -> Iterator[Path]:
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4M", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())
    return filler


async def test_a_full_disk_turns_healthz_red_and_heals_by_itself(
        make_bot: BotFactory, tmp_path: Path) -> None:
    with _small_disk(tmp_path / "disk") as disk:
        bot = await make_bot(database_url=f"sqlite+aiosqlite:///{disk / 'foghorn.db'}")
        inc, _ = await bot.declare("sev2 Disk trouble")
        await bot.slack.say(inc.channel_id, BOB, "before")
        filler = _fill(disk)
        statuses = [(await bot.slack.say(inc.channel_id, BOB, f"while full {n} " + "x" * 3000)
                     )[1].status for n in range(10)]
        assert any(s >= 500 for s in statuses), statuses
        assert await _health(bot) == 503
        filler.unlink()
        _, reply = await bot.slack.say(inc.channel_id, BOB, "room again")
        assert reply.status == 200

        await _heals(bot, inc.id, [f"while full {n} " + "x" * 3000 for n in range(10)])
        await bot.stop()
