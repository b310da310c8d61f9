"""The write paths built for load: group commit, Slack-facing writes first, bounded background
work. Real SQLite files and PostgreSQL databases, no mocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.background import Background
from bot.incidents.timeline import ChatMessage, Timeline
from bot.store import repo
from bot.store.batch import GroupWriter
from bot.store.db import Database, WriteTurn
from bot.store.tables import ProcessedEventRow, TimelineEntryRow


async def _incident(db: Database, channel: str) -> int:
    now = datetime.now(UTC)
    async with db.write() as s:
        return await repo.insert_incident(
            s, title="Disk full", severity="SEV2", status="investigating", is_private=False,
            setup_done=True, channel_id=channel, declared_by="U1", declared_at=now,
            last_update_at=now)


async def test_messages_sent_together_are_each_stored_once(db: Database) -> None:
    incident = await _incident(db, "CINC")
    timeline = Timeline(db)
    batches: list[int] = []
    store = timeline._store

    def counting(s: Session, items: list) -> list[bool]:
        batches.append(len(items))
        return store(s, items)

    timeline._messages.write_many = counting
    msgs = [ChatMessage("CINC", f"1700000000.{i:06d}", "U2", f"line {i}") for i in range(60)]
    results = await asyncio.gather(
        *(timeline.record(m, event_id=f"Ev{i}") for i, m in enumerate(msgs)),
        timeline.record(msgs[0], event_id="Ev0"),  # Slack's retry of the first, at once
        timeline.record(msgs[1], event_id="EvOther"),  # a second delivery of the same ts
        timeline.record(ChatMessage("CELSEWHERE", "1700000001.000000", "U2", "not ours"),
                        event_id="EvX"),
    )
    assert results == [True] * 60 + [False, False, False]
    assert len(batches) < 10 and sum(batches) == 63  # shared transactions, not 63
    async with db.read() as s:
        texts = list(await s.scalars(select(TimelineEntryRow.text)
                                     .where(TimelineEntryRow.incident_id == incident,
                                            TimelineEntryRow.kind == "message")
                                     .order_by(TimelineEntryRow.slack_ts)))
        events = await s.scalar(select(func.count()).select_from(ProcessedEventRow))
    assert texts == [f"line {i}" for i in range(60)]
    assert events == 61  # each distinct delivery to our channel remembered, once


async def test_one_bad_item_fails_alone_and_the_rest_are_stored(db: Database) -> None:
    await _incident(db, "CINC")

    def write_many(s: Session, items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("poison")
        return [repo.incident_ids_by_channel(s, ["CINC"])["CINC"] + i for i in items]

    writer: GroupWriter[int, int] = GroupWriter(db, write_many, name="test")
    outcomes = await asyncio.gather(*(writer.submit(i) for i in range(20)),
                                    return_exceptions=True)
    assert [type(o).__name__ for o in outcomes].count("ValueError") == 1
    assert isinstance(outcomes[13], ValueError)
    assert all(isinstance(o, int) for i, o in enumerate(outcomes) if i != 13)


async def test_slack_facing_writers_go_before_queued_background_writers() -> None:
    turn, order = WriteTurn(), []
    release = asyncio.Event()

    async def writer(name: str, urgent: bool) -> None:
        async with turn(urgent):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.create_task(writer("first", False))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(writer(n, u)) for n, u in
               [("bg1", False), ("ack1", True), ("bg2", False), ("ack2", True)]]
    cancelled = asyncio.create_task(writer("gone", True))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "ack1", "ack2", "bg1", "bg2"]
    async with turn(False):  # and the turn is free again
        pass


async def test_background_runs_a_bounded_number_at_once_and_urgent_work_skips_the_line(
) -> None:
    background, running, peak = Background(limit=3), 0, 0
    gate = asyncio.Event()

    async def job() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1

    for _ in range(10):
        background.spawn(job())
    urgent_ran = asyncio.Event()

    async def modal() -> None:
        urgent_ran.set()

    background.spawn(modal(), urgent=True)
    await asyncio.wait_for(urgent_ran.wait(), 1)  # while all three slots are taken
    assert peak == 3
    gate.set()
    assert await background.drain(within=5)
    assert peak == 3 and running == 0 and background.pending == 0


async def test_a_broken_group_write_answers_its_callers_instead_of_leaving_them_waiting(
        db: Database) -> None:
    calls = 0

    def write_many(s: Session, items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        return [] if calls == 1 else list(items)  # the first batch answers for nobody

    writer: GroupWriter[int, int] = GroupWriter(db, write_many, name="test")
    first = await asyncio.wait_for(asyncio.gather(writer.submit(1), writer.submit(2),
                                                  return_exceptions=True), 5)
    assert all(isinstance(o, RuntimeError) for o in first)
    assert await asyncio.wait_for(writer.submit(3), 5) == 3  # and the writer still works
