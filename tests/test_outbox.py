"""The outbox (#23): every reaction to an incident event is a subscriber that is delivered
its events on its own, retried on its own and, when it keeps failing, parked where
`foghorn outbox` and /metrics show it; it never blocks another subscriber."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.store.tables import DeliveryRow, OutboxEventRow
from bot.testing.slack_world import Message
from tests.conftest import BOB, Bot, BotFactory
from tests.processes import foghorn


def _event_posts(args: dict) -> bool:
    """A message an incident event makes (its metadata names it)."""
    return "foghorn_event" in str(args.get("metadata", ""))


async def deliveries(bot: Bot) -> list[tuple[str, str, str, int]]:
    async with bot.fh.db.read() as s:
        rows = await s.execute(select(OutboxEventRow.kind, DeliveryRow.subscriber,
                                      DeliveryRow.status, DeliveryRow.attempts)
                               .join(OutboxEventRow).order_by(DeliveryRow.id))
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def metrics(bot: Bot) -> str:
    async with bot.session.get(f"{bot.url}/metrics") as r:
        return await r.text()


@pytest.mark.slack_refusals
async def test_a_subscriber_failing_for_good_is_parked_visible_and_retried_by_hand(
        bot: Bot, tmp_path: Path) -> None:
    inc, channel = await bot.declare("sev2 Search slow")
    # Slack refuses every message an event makes in the channel; everything else works.
    bot.fake.fail("chat.postMessage", status=200, error="restricted_action", times=1000,
                  when=_event_posts)
    await bot.command("update identified Bad index", user=BOB, channel=inc.channel_id)
    told = bot.fake.responses[-1]["text"]
    assert "Saved, but Slack refused part of it (restricted_action)" in told
    # The other reactions went ahead: the card shows the new status.
    card = next(m for m in channel.messages if m.ts == inc.card_ts)
    assert "Identified" in str(card.blocks)
    states = {(k, s): (st, n) for k, s, st, n in await deliveries(bot)}
    assert states[("status_updated", "card")] == ("done", 1)
    assert states[("status_updated", "channel")] == ("pending", 1)
    # Tried again with backoff (the test moves the clock instead of waiting) until the
    # subscriber's last attempt, then parked with its error.
    for _ in range(12):
        bot.clock.now += timedelta(hours=1)
        await bot.fh.relay.run_due()
        await bot.settle()
    states = {(k, s): (st, n) for k, s, st, n in await deliveries(bot)}
    assert states[("status_updated", "channel")] == ("parked", 8)
    text = await metrics(bot)
    assert 'foghorn_outbox_waiting{state="parked",subscriber="channel"} 1.0' in text
    assert 'foghorn_outbox_deliveries_total{outcome="parked",subscriber="channel"} 1.0' in text
    env = {"DATABASE_URL": bot.fh.settings.DATABASE_URL}
    code, out, err = await foghorn(env, "outbox")
    assert code == 0, err
    [line] = out.splitlines()
    ident, status, subscriber, label, kind, attempts, error = line.split("\t")
    assert (status, subscriber, label, kind, attempts) == (
        "parked", "channel", "INC-1", "status_updated", "attempts=8")
    assert "restricted_action" in error and "Bad index" not in line  # no message text
    # Slack answers again: retried by hand, said once.
    bot.fake._faults.clear()
    code, out, _ = await foghorn(env, "outbox", "retry", ident)
    assert (code, out) == (0, "1 tried again from now\n")
    await bot.fh.relay.run_due()
    await bot.settle()
    said = [m.text for m in channel.messages if "Bad index" in m.text]
    assert len(said) == 1
    code, out, _ = await foghorn(env, "outbox", "list", "--all")
    assert out == "nothing parked or waiting\n"
    code, _, err = await foghorn(env, "outbox", "drop", "x1")
    assert code == 2 and "not an id" in err


async def test_a_retried_reaction_is_not_said_twice_when_its_answer_was_lost(
        bot: Bot) -> None:
    """Slack posted the message but its answer never arrived: the retry finds the message
    by the event's id in its metadata instead of posting it again."""
    inc, channel = await bot.declare("sev2 Lost answers")
    bot.fake.fail("chat.postMessage", status=500, times=4, when=_event_posts)
    await bot.command("update identified Found it", user=BOB, channel=inc.channel_id)
    assert not [m for m in channel.messages if "Found it" in m.text]  # refused
    # What a lost answer leaves behind: the message is there, the relay thinks it failed.
    channel.messages.append(Message(
        ts=f"{bot.clock().timestamp():.6f}", user="UFOGHORN", text="Found it (answer lost)",
        metadata={"event_type": "foghorn_event",
                  "event_payload": {"event_id": await _last_event(bot), "where": "channel"}}))
    bot.clock.now += timedelta(minutes=5)
    await bot.fh.relay.run_due()
    await bot.settle()
    assert [m.text for m in channel.messages if "Found it" in m.text] == [
        "Found it (answer lost)"]
    states = {(k, s): st for k, s, st, _ in await deliveries(bot)}
    assert states[("status_updated", "channel")] == "done"


async def _last_event(bot: Bot) -> int:
    async with bot.fh.db.read() as s:
        found = await s.scalar(select(OutboxEventRow.id).order_by(OutboxEventRow.id.desc()))
    assert found is not None
    return int(found)


async def test_two_replicas_deliver_each_reaction_once(make_bot: BotFactory, pg_url: str
                                                       ) -> None:
    """Changes made on one replica while the other keeps looking for due deliveries (as
    its safety interval does): every message said once, in order, nothing left over."""
    import asyncio

    one = await make_bot(database_url=pg_url)
    two = await make_bot(database_url=pg_url, clock=one.clock)
    two.slack._ids = one.slack._ids  # one Slack: event ids never repeat across replicas
    inc, channel = await one.declare("sev2 Two replicas")
    done = asyncio.Event()

    async def keep_looking() -> None:
        while not done.is_set():
            await two.fh.relay.run_due()
            await asyncio.sleep(0.005)

    looking = asyncio.create_task(keep_looking())
    statuses = ("identified", "monitoring", "investigating") * 4
    for i, status in enumerate(statuses):
        await one.slack.command(f"update {status} step {i}", user=BOB,
                                channel=inc.channel_id)
    await one.settle()
    done.set()
    await looking
    await two.settle()
    said = [int(m.text.rsplit("step ", 1)[1].split()[0]) for m in channel.messages
            if "step " in m.text]
    async with one.fh.db.read() as s:
        committed = [int(d["message"].rsplit("step ", 1)[1]) for d in await s.scalars(
            select(OutboxEventRow.data).where(OutboxEventRow.kind == "status_updated")
            .order_by(OutboxEventRow.id))]
    assert sorted(said) == list(range(len(statuses)))  # each said once
    assert said == committed  # in the order the changes committed
    assert {st for _, _, st, _ in await deliveries(one)} == {"done"}
    assert one.fh.relay.delivered and two.fh.relay.delivered  # both replicas took a share
