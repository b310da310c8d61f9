"""The outbox: incident events and each subscriber's delivery of them (tables.OutboxEventRow,
tables.DeliveryRow). Claiming works as for reminders: one UPDATE over a locked subquery (FOR
UPDATE SKIP LOCKED on PostgreSQL; SQLite's write transaction is exclusive), under a lease,
with a silent relay's claims taken over. A delivery is claimable only at the head of its
(subscriber, stream): a subscriber sees an incident's events in order, and one delivery that
waits holds only its own subscriber's later events of that incident."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.incidents.events import Event, Kind, Session
from bot.store.locks import is_postgresql
from bot.store.tables import DeliveryRow, DispatcherRow, OutboxEventRow

PENDING, CLAIMED, DONE, PARKED = "pending", "claimed", "done", "parked"
ERROR_LIMIT = 300


def record(session: Session, incident_id: int | None, kind: Kind, data: dict[str, Any],
           at: datetime, subscribers: Iterable[str], *, stream: str | None = None
           ) -> OutboxEventRow:
    """Add an event and a pending delivery per subscriber to the session's transaction."""
    key = stream or (f"incident:{incident_id}" if incident_id is not None else "none")
    row = OutboxEventRow(incident_id=incident_id, kind=str(kind), data=data, occurred_at=at)
    row.deliveries = [DeliveryRow(subscriber=name, stream=key, status=PENDING, attempts=0,
                                  due_at=at) for name in subscribers]
    session.add(row)
    return row


def _claimable(now: datetime, owner: str, silent_since: datetime) -> Any:
    """Due, or claimed by another relay whose lease ran out or who stopped beating; and no
    earlier delivery of the same subscriber and stream still open."""
    d = DeliveryRow
    alive = select(DispatcherRow.owner).where(DispatcherRow.beat_at >= silent_since)
    abandoned = and_(d.status == CLAIMED, d.claimed_by != owner,
                     or_(d.lease_until < now, d.claimed_by.not_in(alive.scalar_subquery())))
    earlier = aliased(DeliveryRow)
    blocked = exists().where(earlier.subscriber == d.subscriber, earlier.stream == d.stream,
                             earlier.event_id < d.event_id,
                             earlier.status.in_((PENDING, CLAIMED)))
    return and_(or_(and_(d.status == PENDING, d.due_at <= now), abandoned), ~blocked)


async def any_claimable(session: AsyncSession, now: datetime, owner: str,
                        silent_since: datetime) -> bool:
    """A cheap read first, so that a look finding nothing costs no write."""
    found = await session.scalar(select(DeliveryRow.id).where(
        _claimable(now, owner, silent_since)).limit(1))
    return found is not None


async def claim(session: AsyncSession, now: datetime, owner: str, lease: timedelta,
                limit: int, *, silent_since: datetime, event_ids: list[int] | None = None
                ) -> list[tuple[DeliveryRow, Event]]:
    """Take up to `limit` claimable deliveries (of `event_ids` only, when given)."""
    picked = select(DeliveryRow.id).where(_claimable(now, owner, silent_since))
    if event_ids is not None:
        picked = picked.where(DeliveryRow.event_id.in_(event_ids),
                              DeliveryRow.status == PENDING)
    picked = picked.order_by(DeliveryRow.event_id, DeliveryRow.id).limit(limit)
    if is_postgresql(session):
        picked = picked.with_for_update(skip_locked=True, of=DeliveryRow)
    result = await session.execute(
        update(DeliveryRow).where(DeliveryRow.id.in_(picked.scalar_subquery()))
        .values(status=CLAIMED, claimed_by=owner, lease_until=now + lease,
                attempts=DeliveryRow.attempts + 1)
        .returning(DeliveryRow.id).execution_options(synchronize_session=False))
    ids = [int(i) for i in result.scalars()]
    if not ids:
        return []
    rows = (await session.execute(
        select(DeliveryRow, OutboxEventRow).join(OutboxEventRow)
        .where(DeliveryRow.id.in_(ids)).order_by(DeliveryRow.event_id, DeliveryRow.id)
        .execution_options(populate_existing=True))).all()
    return [(d, _event(e)) for d, e in rows]


def _event(row: OutboxEventRow) -> Event:
    return Event(row.id, row.incident_id, Kind(row.kind), dict(row.data), row.occurred_at)


def _mine(delivery_id: int, owner: str) -> Any:
    return and_(DeliveryRow.id == delivery_id, DeliveryRow.claimed_by == owner,
                DeliveryRow.status == CLAIMED)


async def finish(session: AsyncSession, delivery_id: int, owner: str, at: datetime) -> bool:
    """Done; False when the claim was lost meanwhile (another relay took it over)."""
    result = await session.execute(update(DeliveryRow).where(_mine(delivery_id, owner)).values(
        status=DONE, done_at=at, lease_until=None, last_error=None))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def retry_later(session: AsyncSession, delivery_id: int, owner: str, due_at: datetime,
                      error: str) -> None:
    await session.execute(update(DeliveryRow).where(_mine(delivery_id, owner)).values(
        status=PENDING, due_at=due_at, claimed_by=None, lease_until=None,
        last_error=error[:ERROR_LIMIT]))


async def park(session: AsyncSession, delivery_id: int, owner: str, at: datetime,
               error: str) -> None:
    await session.execute(update(DeliveryRow).where(_mine(delivery_id, owner)).values(
        status=PARKED, done_at=at, lease_until=None, last_error=error[:ERROR_LIMIT]))


async def pending_after(session: AsyncSession, subscriber: str, stream: str, event_id: int
                        ) -> list[tuple[int, int, dict[str, Any]]]:
    """(delivery id, event id, data) of the subscriber's pending deliveries in `stream` after
    `event_id`: what a coalescing subscriber takes in with the one it is handling."""
    rows = await session.execute(
        select(DeliveryRow.id, OutboxEventRow.id, OutboxEventRow.data).join(OutboxEventRow)
        .where(DeliveryRow.subscriber == subscriber, DeliveryRow.stream == stream,
               DeliveryRow.event_id > event_id, DeliveryRow.status == PENDING)
        .order_by(DeliveryRow.event_id))
    return [(int(d), int(e), dict(data)) for d, e, data in rows.all()]


async def absorb(session: AsyncSession, delivery_ids: list[int], at: datetime) -> None:
    """Mark deliveries done that another delivery of their subscriber carried out."""
    if delivery_ids:
        await session.execute(update(DeliveryRow).where(
            DeliveryRow.id.in_(delivery_ids), DeliveryRow.status == PENDING).values(
            status=DONE, done_at=at))


async def renew(session: AsyncSession, owner: str, until: datetime) -> None:
    """Extend the leases of this relay's deliveries under way (a long one is not dead)."""
    await session.execute(update(DeliveryRow).where(
        DeliveryRow.claimed_by == owner, DeliveryRow.status == CLAIMED).values(
        lease_until=until))


async def release_claims_of_others(session: AsyncSession, owner: str) -> int:
    """A single SQLite process starting: any other claim was left by a run that died."""
    result = await session.execute(update(DeliveryRow).where(
        DeliveryRow.status == CLAIMED, DeliveryRow.claimed_by != owner).values(
        status=PENDING, claimed_by=None, lease_until=None))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


# ----- for operators: `foghorn outbox` and /metrics ----------------------------------------
async def counts(session: AsyncSession, now: datetime
                 ) -> list[tuple[str, str, int, float]]:
    """(subscriber, status, how many, oldest's age in seconds) of what is not done."""
    rows = await session.execute(
        select(DeliveryRow.subscriber, DeliveryRow.status, func.count(),
               func.min(OutboxEventRow.occurred_at))
        .join(OutboxEventRow).where(DeliveryRow.status != DONE)
        .group_by(DeliveryRow.subscriber, DeliveryRow.status))
    out = []
    for subscriber, status, n, oldest in rows:  # (UTCDateTime: aware, on both backends)
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        out.append((str(subscriber), str(status), int(n), age))
    return out


async def listing(session: AsyncSession, statuses: tuple[str, ...], limit: int
                  ) -> list[tuple[DeliveryRow, OutboxEventRow]]:
    rows = await session.execute(
        select(DeliveryRow, OutboxEventRow).join(OutboxEventRow)
        .where(DeliveryRow.status.in_(statuses)).order_by(DeliveryRow.id).limit(limit))
    return [(d, e) for d, e in rows.all()]


async def retry_parked(session: AsyncSession, ids: list[int] | None, at: datetime) -> int:
    """Parked deliveries (these, or all) pending again, with a fresh count of attempts."""
    stmt = update(DeliveryRow).where(DeliveryRow.status == PARKED)
    if ids is not None:
        stmt = stmt.where(DeliveryRow.id.in_(ids))
    result = await session.execute(stmt.values(status=PENDING, due_at=at, attempts=0,
                                               done_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def drop(session: AsyncSession, ids: list[int]) -> int:
    """Give up on deliveries (parked or pending) for good: they are removed."""
    result = await session.execute(delete(DeliveryRow).where(
        DeliveryRow.id.in_(ids), DeliveryRow.status.in_((PARKED, PENDING))))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it
