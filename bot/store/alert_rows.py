"""Alert notifications and alert groups (see tables.AlertNotificationRow, AlertGroupRow).

`process_in` runs inside one write transaction (synchronous, through `Database.write_sync`),
so that claiming a group and opening its incident happen together: on PostgreSQL under an
advisory lock on the group, on SQLite under the one writer; the partial unique index on open
groups is the backstop. Two replicas, a retry or a restart never open a second incident.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.incidents.model import RESOLVED
from bot.store import locks, repo
from bot.store.tables import (
    AlertDeliveryRow,
    AlertGroupRow,
    AlertNotificationRow,
    IncidentRow,
    TimelineEntryRow,
)

SyncSession = Session  # what the deciding transaction is, for the intake's type hints
PARKED = "parked"  # the outcome of a notification that kept failing


DELIVERIES_KEPT = timedelta(hours=24)  # how long a replayed delivery is recognised


async def first_delivery(session: AsyncSession, source: str, key: str, at: datetime) -> bool:
    """Remember a signed delivery; False when it was taken already (a replay, a retry)."""
    if await session.get(AlertDeliveryRow, (source, key)) is not None:
        return False
    await session.execute(delete(AlertDeliveryRow).where(
        AlertDeliveryRow.received_at < at - DELIVERIES_KEPT))
    return await repo.add_once(session, AlertDeliveryRow(source=source, key=key,
                                                         received_at=at))


async def store_notification(session: AsyncSession, *, source: str, group_hash: str,
                             status: str, payload: dict[str, Any], at: datetime) -> int:
    row = AlertNotificationRow(source=source, group_hash=group_hash, status=status,
                               payload=payload, received_at=at)
    session.add(row)
    await session.flush()
    return int(row.id)


async def due(session: AsyncSession, now: datetime, limit: int = 500) -> list[int]:
    """Unprocessed notifications to take now, oldest first: of each group only those before
    its first one that waits for a retry (a group's notifications are taken in order)."""
    rows = await session.execute(select(
        AlertNotificationRow.id, AlertNotificationRow.group_hash,
        AlertNotificationRow.next_try_at).where(AlertNotificationRow.processed_at.is_(None))
        .order_by(AlertNotificationRow.id).limit(limit))
    waiting: set[str] = set()
    found = []
    for notification_id, group, next_try in rows:
        if group in waiting:
            continue
        if next_try is not None and next_try > now:
            waiting.add(group)
            continue
        found.append(int(notification_id))
    return found


async def failed(session: AsyncSession, notification_id: int, error: str, now: datetime,
                 max_attempts: int, backoff: tuple[float, ...]) -> bool:
    """Count a failed try: tried again after the backoff, or (the last attempt) parked,
    marked processed with outcome `parked` and the error kept. True when parked."""
    row = await session.get(AlertNotificationRow, notification_id)
    if row is None or row.processed_at is not None:
        return False
    row.attempts += 1
    row.last_error = error[:300]
    if row.attempts >= max_attempts:
        row.processed_at, row.outcome, row.next_try_at = now, PARKED, None
        return True
    row.next_try_at = now + timedelta(seconds=backoff[min(row.attempts, len(backoff)) - 1])
    return False


async def waiting(session: AsyncSession, now: datetime) -> tuple[int, float, int]:
    """(unprocessed, the oldest one's age in seconds, parked) for /metrics and /healthz."""
    count, oldest = (await session.execute(select(
        func.count(), func.min(AlertNotificationRow.received_at)).where(
        AlertNotificationRow.processed_at.is_(None)))).one()
    parked = await session.scalar(select(func.count()).where(
        AlertNotificationRow.outcome == PARKED))
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return int(count), age, int(parked or 0)


async def parked_notifications(session: AsyncSession, limit: int
                               ) -> list[AlertNotificationRow]:
    return list(await session.scalars(select(AlertNotificationRow).where(
        AlertNotificationRow.outcome == PARKED).order_by(AlertNotificationRow.id)
        .limit(limit)))


async def retry_parked(session: AsyncSession, ids: list[int] | None) -> int:
    stmt = update(AlertNotificationRow).where(AlertNotificationRow.outcome == PARKED)
    if ids is not None:
        stmt = stmt.where(AlertNotificationRow.id.in_(ids))
    result = await session.execute(stmt.values(processed_at=None, outcome=None, attempts=0,
                                               next_try_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def drop_parked(session: AsyncSession, ids: list[int]) -> int:
    """Leave parked notifications as they are, for good (kept for the record)."""
    result = await session.execute(update(AlertNotificationRow).where(
        AlertNotificationRow.outcome == PARKED, AlertNotificationRow.id.in_(ids))
        .values(outcome="dropped"))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


def lock_group(session: Session, group_hash: str) -> None:
    locks.xact_lock(session, f"alert|{group_hash}")


def group(session: Session, group_id: int) -> AlertGroupRow | None:
    return session.get(AlertGroupRow, group_id)


def reread(session: Session, row: object) -> None:
    """Read a row again (after taking its group's lock: another replica may have changed
    it meanwhile)."""
    session.refresh(row)


def add_alert_entry(session: Session, incident_id: int, at: datetime, actor: str | None,
                    text: str, data: dict[str, Any]) -> None:
    """An `alert` entry in an incident's timeline, in the deciding transaction."""
    session.add(TimelineEntryRow(incident_id=incident_id, kind="alert", occurred_at=at,
                                 actor=actor, text=text, data=data))


async def group_for_action(session: AsyncSession, group_id: int) -> AlertGroupRow | None:
    return await session.get(AlertGroupRow, group_id)


async def notification_for_post(session: AsyncSession, notification_id: int
                                ) -> AlertNotificationRow | None:
    return await session.get(AlertNotificationRow, notification_id)


def notification(session: Session, notification_id: int) -> AlertNotificationRow | None:
    return session.get(AlertNotificationRow, notification_id)


def open_group(session: Session, source: str, group_hash: str) -> AlertGroupRow | None:
    """The group's open row; one whose incident has been resolved is closed on the way (a
    group firing again after its incident was resolved opens a new one)."""
    group = session.scalar(select(AlertGroupRow).where(
        AlertGroupRow.source == source, AlertGroupRow.group_hash == group_hash,
        AlertGroupRow.is_open.is_(True)))
    if group is not None and group.incident_id is not None:
        status = session.scalar(select(IncidentRow.status).where(
            IncidentRow.id == group.incident_id))
        if status in (None, RESOLVED):
            group.is_open = False
            session.flush()
            return None
    return group


def new_group(session: Session, *, source: str, group_hash: str, group_key: str,
              at: datetime) -> AlertGroupRow:
    group = AlertGroupRow(source=source, group_hash=group_hash, group_key=group_key,
                          is_open=True, alerts={}, created_at=at, posted_through=0)
    session.add(group)
    session.flush()
    return group


def latest_notification(session: Session, source: str, group_hash: str
                        ) -> AlertNotificationRow | None:
    return session.scalar(select(AlertNotificationRow).where(
        AlertNotificationRow.source == source, AlertNotificationRow.group_hash == group_hash)
        .order_by(AlertNotificationRow.id.desc()).limit(1))


async def group_of(session: AsyncSession, incident_id: int) -> AlertGroupRow | None:
    return await session.scalar(select(AlertGroupRow).where(
        AlertGroupRow.incident_id == incident_id).order_by(AlertGroupRow.id.desc()).limit(1))
