"""Reminder rows: planning them, claiming due ones (with leases and heartbeats), closing
them. The rules for *when* a reminder is due live in bot.incidents.reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.incidents.model import Reminder
from bot.store.locks import is_postgresql
from bot.store.repo import insert_for
from bot.store.repo import new_reminder_row as new_row
from bot.store.tables import DispatcherRow, IncidentRow, ReminderRow

PENDING, CLAIMED, SENT, SKIPPED, CANCELLED = "pending", "claimed", "sent", "skipped", "cancelled"


async def add_reminder(session: AsyncSession, incident_id: int, kind: str, due_at: datetime,
                       step: int = 0) -> None:
    session.add(new_row(incident_id, kind, due_at, step))
    await session.flush()


async def pending_reminders(session: AsyncSession, incident_id: int,
                            kinds: tuple[str, ...] | None = None) -> list[ReminderRow]:
    stmt = select(ReminderRow).where(ReminderRow.incident_id == incident_id,
                                     ReminderRow.status == PENDING)
    if kinds is not None:
        stmt = stmt.where(ReminderRow.kind.in_(kinds))
    return list(await session.scalars(stmt.order_by(ReminderRow.due_at)))


async def cancel_reminders(session: AsyncSession, incident_id: int,
                           kinds: tuple[str, ...] | None = None) -> None:
    stmt = update(ReminderRow).where(ReminderRow.incident_id == incident_id,
                                     ReminderRow.status == PENDING)
    if kinds is not None:
        stmt = stmt.where(ReminderRow.kind.in_(kinds))
    await session.execute(stmt.values(status=CANCELLED))


async def cancel_team_reminders(session: AsyncSession, team_id: str) -> int:
    """Cancel every pending reminder of a workspace's incidents; how many were cancelled."""
    of_team = select(IncidentRow.id).where(IncidentRow.team_id == team_id).scalar_subquery()
    result = await session.execute(
        update(ReminderRow).where(ReminderRow.incident_id.in_(of_team),
                                  ReminderRow.status == PENDING).values(status=CANCELLED))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def set_reminder(session: AsyncSession, incident_id: int, kind: str, due_at: datetime
                       ) -> None:
    """Make the incident's one pending `kind` reminder due at `due_at`."""
    rows = await pending_reminders(session, incident_id, (kind,))
    if not rows:
        await add_reminder(session, incident_id, kind, due_at)
        return
    rows[0].due_at = due_at
    for extra in rows[1:]:
        extra.status = CANCELLED


def due(now: datetime, silent_since: datetime | None) -> Any:
    """Pending and due; or claimed by a dispatcher whose lease ran out, or (with
    `silent_since`) whose heartbeat stopped before then."""
    abandoned = ReminderRow.lease_until < now
    if silent_since is not None:
        alive = select(DispatcherRow.owner).where(DispatcherRow.beat_at >= silent_since)
        abandoned = or_(abandoned, ReminderRow.claimed_by.not_in(alive.scalar_subquery()))
    return or_(and_(ReminderRow.status == PENDING, ReminderRow.due_at <= now),
               and_(ReminderRow.status == CLAIMED, abandoned))


async def heartbeat(session: AsyncSession, owner: str, at: datetime) -> None:
    """This dispatcher is alive (upserted; each replica beats every few seconds)."""
    stmt = insert_for(session)(DispatcherRow).values(owner=owner, beat_at=at)
    await session.execute(stmt.on_conflict_do_update(index_elements=["owner"],
                                                     set_={"beat_at": at}))


async def forget_dispatcher(session: AsyncSession, owner: str) -> None:
    await session.execute(delete(DispatcherRow).where(DispatcherRow.owner == owner))


async def release_claims_of_others(session: AsyncSession, owner: str) -> int:
    """Give back every claim not `owner`'s (a single SQLite process starting: any other
    claim was left by an earlier run that died). Attempts are kept, so the posted-already
    check still runs for them."""
    result = await session.execute(
        update(ReminderRow).where(ReminderRow.status == CLAIMED,
                                  ReminderRow.claimed_by != owner)
        .values(status=PENDING, lease_until=None))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


CLAIMED_COLUMNS = (ReminderRow.id, ReminderRow.incident_id, ReminderRow.kind,
                    ReminderRow.step, ReminderRow.due_at, ReminderRow.attempts)


async def claim_due(session: AsyncSession, now: datetime, owner: str, lease: timedelta,
                    limit: int, *, silent_since: datetime | None = None) -> list[Reminder]:
    """Atomically take up to `limit` due reminders (and ones whose claim's lease ran out).

    One UPDATE whose subquery, on PostgreSQL, locks the rows it picks and skips rows another
    replica has locked (FOR UPDATE SKIP LOCKED); on SQLite the write transaction itself is
    exclusive (BEGIN IMMEDIATE). (tests/test_replicas.py shows the classic mistake, select
    then update without a lock, sending duplicates.)
    """
    picked = (select(ReminderRow.id).where(due(now, silent_since))
              .order_by(ReminderRow.due_at).limit(limit))
    if is_postgresql(session):
        picked = picked.with_for_update(skip_locked=True)
    stmt = update(ReminderRow).where(ReminderRow.id.in_(picked.scalar_subquery()))
    rows = await session.execute(stmt.values(**claim_values(now, owner, lease))
                                 .returning(*CLAIMED_COLUMNS))
    return [Reminder(*row) for row in rows]


def claim_values(now: datetime, owner: str, lease: timedelta) -> dict[str, Any]:
    return {"status": CLAIMED, "claimed_by": owner, "lease_until": now + lease,
            "attempts": ReminderRow.attempts + 1}


async def finish_reminder(session: AsyncSession, reminder_id: int, owner: str, status: str,
                          at: datetime) -> bool:
    """Close a claimed reminder (sent or skipped); False if our claim was lost meanwhile."""
    result = await session.execute(
        update(ReminderRow)
        .where(ReminderRow.id == reminder_id, ReminderRow.claimed_by == owner,
               ReminderRow.status == CLAIMED)
        .values(status=status, sent_at=at if status == SENT else None, lease_until=None))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def release_reminder(session: AsyncSession, reminder_id: int, owner: str,
                           retry_at: datetime) -> None:
    """Give a claimed reminder back (sending failed): pending again, due at `retry_at`."""
    await session.execute(
        update(ReminderRow)
        .where(ReminderRow.id == reminder_id, ReminderRow.claimed_by == owner,
               ReminderRow.status == CLAIMED)
        .values(status=PENDING, due_at=retry_at, claimed_by=None, lease_until=None))


async def next_due(session: AsyncSession) -> datetime | None:
    """When the dispatcher next has work: the earliest pending due time or lease expiry."""
    pending = await session.scalar(
        select(func.min(ReminderRow.due_at)).where(ReminderRow.status == PENDING))
    lease = await session.scalar(
        select(func.min(ReminderRow.lease_until)).where(ReminderRow.status == CLAIMED))
    times = [t for t in (pending, lease) if t is not None]
    if not times:
        return None
    return min(t if t.tzinfo else t.replace(tzinfo=UTC) for t in times)
