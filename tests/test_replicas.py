"""Two app instances on one PostgreSQL database: every due reminder is sent exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.dispatcher import Dispatcher
from bot.incidents.model import Reminder
from bot.store import reminder_rows, repo
from bot.store.tables import ReminderRow
from bot.testing.fake_slack import BOT_USER_ID, FakeSlack
from tests.conftest import Bot, BotFactory, Clock

REMINDERS = 200  # enough for both replicas to take a share and race on every row


async def _due_reminders(bot: Bot, fake: FakeSlack, count: int) -> None:
    """`count` open incidents, each with its own channel and an overdue update reminder."""
    now = bot.clock()
    async with bot.fh.db.write() as s:
        for i in range(count):
            ch = fake.add_channel(f"incident-bulk-{i}", members={BOT_USER_ID})
            iid = await repo.insert_incident(
                s, title=f"Bulk {i}", severity="SEV1", status="investigating",
                is_private=False, setup_done=True, channel_id=ch.id, declared_by="UALICE",
                declared_at=now - timedelta(minutes=31), last_update_at=now - timedelta(
                    minutes=31))
            await reminder_rows.add_reminder(s, iid, "update", now - timedelta(minutes=1))


def _reminders_per_channel(fake: FakeSlack) -> Counter[str]:
    return Counter(c.id for c in fake.channels.values() if c.name.startswith("incident-bulk-")
                   for m in c.messages if m.text.startswith("Reminder:"))


async def _two_replicas(make_bot: BotFactory, pg_url: str) -> tuple[Bot, Bot]:
    clock = Clock()
    first = await make_bot(database_url=pg_url, clock=clock)
    second = await make_bot(database_url=pg_url, clock=clock)
    return first, second


async def test_two_replicas_send_each_reminder_exactly_once(
    make_bot: BotFactory, fake: FakeSlack, pg_url: str
) -> None:
    a, b = await _two_replicas(make_bot, pg_url)
    await _due_reminders(a, fake, REMINDERS)
    handled = await asyncio.gather(a.fh.dispatcher.run_due(), b.fh.dispatcher.run_due())
    per_channel = _reminders_per_channel(fake)
    assert len(per_channel) == REMINDERS and set(per_channel.values()) == {1}
    assert sum(handled) == REMINDERS and min(handled) > 0  # both replicas took a share
    async with a.fh.db.read() as s:
        leftover = await reminder_rows.claim_due(s, a.clock() + timedelta(minutes=10), "check",
                                        timedelta(minutes=1), 10)
    assert [r.kind for r in leftover] == []  # all sent; next ones due 30 min later


async def test_an_unlocked_claim_sends_duplicates(
    make_bot: BotFactory, fake: FakeSlack, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: the classic select-then-update claim doubles sends."""
    a, b = await _two_replicas(make_bot, pg_url)
    await _due_reminders(a, fake, 200)
    # Both replicas read the same due rows, so each row's second claimer sees attempts=2
    # and would look in the channel for the first claimer's message before posting. That
    # second line of defence only wins the race sometimes, which made this check flaky: it
    # is taken away here (attempts=1) so that what is shown is the claim alone.
    def first_attempt(bot: Bot) -> Callable[[Reminder], Awaitable[object]]:
        return lambda r: bot.fh.service.fire_reminder(replace(r, attempts=1))

    async def unlocked_claim(session: Any, now: Any, owner: str, lease: Any, limit: int,
                             **_: Any) -> list[Reminder]:
        """Both replicas read the same due rows, then each claims them by id alone."""
        picked = (select(ReminderRow.id).where(reminder_rows.due(now, None))
                  .order_by(ReminderRow.due_at).limit(limit))
        ids = list(await session.scalars(picked))
        await asyncio.sleep(0.1)  # the window in which the other replica reads them too
        rows = await session.execute(
            update(ReminderRow).where(ReminderRow.id.in_(ids))
            .values(**reminder_rows.claim_values(now, owner, lease))
            .returning(*reminder_rows.CLAIMED_COLUMNS))
        return [Reminder(*row) for row in rows]

    monkeypatch.setattr(reminder_rows, "claim_due", unlocked_claim)
    broken = [Dispatcher(bot.fh.db, first_attempt(bot), clock=bot.clock) for bot in (a, b)]
    await asyncio.gather(*(d.run_due() for d in broken))
    per_channel = _reminders_per_channel(fake)
    assert max(per_channel.values()) > 1
