"""SIGKILL of a real `python -m bot` right after it acknowledged an event: nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.store import entry_rows, repo
from bot.store.db import Database
from bot.store.tables import ReminderRow
from bot.testing.fake_slack import FakeSlack
from bot.testing.ports import free_port
from bot.testing.slack_requests import SlackSender
from tests.conftest import ALICE, BOB, GENERAL, ROOT, SECRET


async def _start(fake: FakeSlack, db_url: str, port: int, playbooks: Path | None = None
                 ) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env |= {"SLACK_BOT_TOKEN": "xoxb-k", "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.url, "DATABASE_URL": db_url, "PORT": str(port),
            "PLAYBOOKS_DIR": str(playbooks or ROOT / "playbooks")}
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


async def _declared(slack: SlackSender, fake: FakeSlack, title: str, slug: str) -> Any:
    """Declare (as ALICE, from #general) and wait for the card's pin: its channel."""
    await slack.command(f"declare sev1 {title}", user=ALICE, channel=GENERAL)
    for _ in range(200):
        if fake.calls_to("pins.add"):
            break
        await asyncio.sleep(0.05)
    return next(c for c in fake.channels.values() if c.name.endswith(slug))


async def test_sigkill_right_after_acks_loses_no_event(fake: FakeSlack, tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"
    port = free_port()
    proc = await _start(fake, db_url, port)
    async with aiohttp.ClientSession() as session:
        slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
        channel = await _declared(slack, fake, "Kill me", "kill-me")
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
        stored = [e.slack_ts for e in await entry_rows.list_entries(s, inc.id) if e.slack_ts]
    await db.close()
    assert stored == acked


@pytest.mark.parametrize("cycles", [
    5, pytest.param(20, marks=pytest.mark.soak)])  # `pytest -m soak` for the long one
async def test_kill9_loop_during_a_scripted_incident(fake: FakeSlack, tmp_path: Path,
                                                     cycles: int) -> None:
    """SIGKILLs at random points while people declare, talk and get reminded."""
    import json
    import random
    from collections import Counter

    import yaml

    pb = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())
    pb["severities"][0].update(response_time="2s", update_every="3s",
                               escalation=[{"after": "4s", "notify": ["#incidents"]}])
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "default.yml").write_text(yaml.safe_dump(pb))
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}"
    rng = random.Random(20261123)
    acked: list[str] = []
    declared: list[str] = []
    kills = 0

    async def script(slack: SlackSender, cycle: int) -> None:
        title = f"Kill loop {cycle}"
        reply = await slack.command(f"declare sev1 {title}", user=ALICE, channel=GENERAL)
        if reply.status == 200 and "Declaring" in reply.text:
            declared.append(title)
        for i in range(40):
            channels = [c for c in fake.channels.values() if c.name.startswith("incident-")]
            if channels:
                msg, reply = await slack.say(channels[i % len(channels)].id, BOB,
                                             f"cycle {cycle} message {i}")
                if reply.status == 200:
                    acked.append(msg.ts)
            await asyncio.sleep(0.02)

    for cycle in range(cycles):
        port = free_port()
        proc = await _start(fake, db_url, port, playbooks=tmp_path / "playbooks")
        async with aiohttp.ClientSession() as session:
            slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
            task = asyncio.create_task(script(slack, cycle))
            await asyncio.sleep(rng.uniform(0.05, 1.5))
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kills += 1
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # A last, undisturbed run finishes whatever the kills interrupted.
    port = free_port()
    proc = await _start(fake, db_url, port, playbooks=tmp_path / "playbooks")
    db = Database(db_url)
    for _ in range(100):
        async with db.read() as s:
            if not await repo.list_unfinished_setup(s):
                break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0

    stopped_at = datetime.now(UTC)
    async with db.read() as s:
        incidents = await repo.list_open(s)
        unfinished = await repo.list_unfinished_setup(s)
        stored = {e.slack_ts for inc in incidents for e in await entry_rows.list_entries(s, inc.id)}
        overdue = (await s.execute(select(func.count()).select_from(ReminderRow).where(
            ReminderRow.status == "pending",
            ReminderRow.due_at < stopped_at - timedelta(seconds=6)))).scalar()
    await db.close()
    assert overdue == 0, "a due reminder was never sent"
    assert kills == cycles and unfinished == []
    assert set(acked) <= stored, "an acknowledged event was lost"
    titles = Counter(i.title for i in incidents)
    assert set(declared) <= set(titles) and max(titles.values()) == 1
    assert all(i.channel_id and i.card_ts for i in incidents)
    channels = [c for c in fake.channels.values() if c.name.startswith("incident-")]
    assert sorted(c.id for c in channels) == sorted(i.channel_id for i in incidents)

    def tagged(kind: str) -> Counter:
        return Counter(json.dumps(m.metadata["event_payload"], sort_keys=True)
                       for c in fake.channels.values() for m in c.messages
                       if m.metadata and m.metadata.get("event_type") == kind)

    cards, announcements = tagged("foghorn_card"), tagged("foghorn_announcement")
    reminders = tagged("foghorn_reminder")
    assert len(cards) == len(incidents) and set(cards.values()) == {1}
    assert set(announcements.values()) == {1}
    assert reminders and set(reminders.values()) == {1}, "a reminder was posted twice"


async def test_sigterm_lets_in_flight_work_finish_then_exits(fake: FakeSlack, tmp_path: Path
                                                            ) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    port = free_port()
    proc = await _start(fake, db_url, port)
    fake.delay("conversations.create", 2.0)  # the declare is mid-way when SIGTERM arrives
    async with aiohttp.ClientSession() as session:
        slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
        reply = await slack.command("declare sev1 Shutting down", user=ALICE, channel=GENERAL)
        assert "Declaring" in reply.text
    started = asyncio.get_running_loop().time()
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 0
    assert asyncio.get_running_loop().time() - started < 10
    [channel] = [c for c in fake.channels.values() if c.name.endswith("shutting-down")]
    assert channel.pins, "the declare in flight was finished before exit"


async def test_a_kill_right_after_a_reminder_post_keeps_the_cadence(fake: FakeSlack,
                                                                    tmp_path: Path) -> None:
    """SIGKILL lands after Slack stored a reminder, before the bot heard back: the restarted
    bot takes its dead run's claim back at once (before: no reminder for the 5-minute
    lease, against a 3 s cadence), finds the reminder posted, and posts it only once."""
    import yaml

    pb = yaml.safe_load((ROOT / "playbooks" / "default.yml").read_text())
    pb["severities"][0].update(response_time="3s", update_every="3s", escalation=[])
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "default.yml").write_text(yaml.safe_dump(pb))
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    posted: list[int] = []
    pids: list[int] = []

    def on_post(kind: str, _channel: object, msg: object, _name: str) -> None:
        meta = getattr(msg, "metadata", None) or {}
        if kind == "post" and meta.get("event_type") == "foghorn_reminder":
            posted.append(meta["event_payload"]["reminder_id"])
            if len(posted) == 1:
                os.kill(pids[-1], signal.SIGKILL)  # before the bot reads Slack's answer

    fake.on_message.append(on_post)
    port = free_port()
    proc = await _start(fake, db_url, port, playbooks=tmp_path / "playbooks")
    pids.append(proc.pid)
    async with aiohttp.ClientSession() as session:
        slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
        await slack.command("declare sev1 Reminded then killed", user=ALICE, channel=GENERAL)
        for _ in range(100):  # an IC at once, so the only reminders are update reminders
            found = [c for c in fake.channels.values() if c.name.endswith("then-killed")]
            if found and fake.calls_to("pins.add"):
                break
            await asyncio.sleep(0.05)
        await slack.command("role ic me", user=BOB, channel=found[0].id)
    await asyncio.wait_for(proc.wait(), 30)  # killed by the first reminder's post
    restarted = await _start(fake, db_url, free_port(), playbooks=tmp_path / "playbooks")
    pids.append(restarted.pid)
    started = asyncio.get_running_loop().time()
    while len(posted) < 2:
        assert asyncio.get_running_loop().time() - started < 20, "the cadence stalled"
        await asyncio.sleep(0.1)
    restarted.send_signal(signal.SIGTERM)
    await restarted.wait()
    assert posted[1] != posted[0] and len(posted) == len(set(posted)), posted


async def test_kill9_between_a_change_and_its_reactions(fake: FakeSlack, tmp_path: Path
                                                       ) -> None:
    """SIGKILL after a change committed and before its reactions were done: after the
    restart every reaction is done, each once (#23)."""
    from bot.store.tables import DeliveryRow, OutboxEventRow

    db_url = f"sqlite+aiosqlite:///{tmp_path / 'react.db'}"
    port = free_port()
    proc = await _start(fake, db_url, port)
    async with aiohttp.ClientSession() as session:
        slack = SlackSender(f"http://127.0.0.1:{port}", SECRET, fake, session)
        channel = await _declared(slack, fake, "Kill mid-reaction", "kill-mid-reaction")
        db = Database(db_url)
        for _ in range(200):  # the declare is done, its own reactions too
            async with db.read() as s:
                busy = (await s.execute(select(func.count()).select_from(DeliveryRow).where(
                    DeliveryRow.status != "done"))).scalar()
            if not busy:
                break
            await asyncio.sleep(0.05)
        # Slack fails (and the gateway retries): the reactions are under way at the kill.
        fake.fail("*", status=503, times=100_000)
        reply = await slack.command("update identified Bad deploy", user=BOB,
                                    channel=channel.id)
        assert reply.status == 200
        for _ in range(200):  # the update is committed and its reactions claimed
            async with db.read() as s:
                claimed = (await s.execute(
                    select(func.count()).select_from(DeliveryRow).join(OutboxEventRow)
                    .where(DeliveryRow.status == "claimed",
                           OutboxEventRow.kind == "status_updated"))).scalar()
            if claimed:
                break
            await asyncio.sleep(0.05)
        assert claimed
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    said = [m for m in channel.messages if "Bad deploy" in m.text]
    assert said == []  # nothing reached Slack before the kill

    fake._faults.clear()
    port = free_port()
    proc = await _start(fake, db_url, port)
    for _ in range(600):  # what failed before the kill is tried again after its backoff
        async with db.read() as s:
            open_ = (await s.execute(select(DeliveryRow.subscriber, DeliveryRow.status,
                                            DeliveryRow.attempts, DeliveryRow.due_at).where(
                DeliveryRow.status != "done"))).all()
        if not open_:
            break
        await asyncio.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert await proc.wait() == 0
    async with db.read() as s:
        inc = await repo.get_by_channel(s, channel.id)
    await db.close()
    assert open_ == []
    said = [m for m in channel.messages if "Bad deploy" in m.text]
    assert len(said) == 1  # said once
    assert inc is not None and inc.status == "identified"
    card = next(m for m in channel.messages if m.ts == inc.card_ts)
    assert "Identified" in str(card.blocks)  # the card shows the change
