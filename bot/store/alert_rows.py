"""Alert notifications and alert groups (see tables.AlertNotificationRow, AlertGroupRow).

`process_in` runs inside one write transaction (synchronous, through `Database.write_sync`),
so that claiming a group and opening its incident happen together: on PostgreSQL under an
advisory lock on the group, on SQLite under the one writer; the partial unique index on open
groups is the backstop. Two replicas, a retry or a restart never open a second incident.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.incidents.model import RESOLVED
from bot.store.tables import AlertGroupRow, AlertNotificationRow, IncidentRow


async def store_notification(session: AsyncSession, *, source: str, group_hash: str,
                             status: str, payload: dict[str, Any], at: datetime) -> int:
    row = AlertNotificationRow(source=source, group_hash=group_hash, status=status,
                               payload=payload, received_at=at)
    session.add(row)
    await session.flush()
    return int(row.id)


async def unprocessed(session: AsyncSession, limit: int = 500) -> list[int]:
    rows = await session.scalars(select(AlertNotificationRow.id).where(
        AlertNotificationRow.processed_at.is_(None)).order_by(AlertNotificationRow.id)
        .limit(limit))
    return [int(i) for i in rows]


def lock_group(session: Session, group_hash: str) -> None:
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                        {"k": zlib.crc32(f"alert|{group_hash}".encode())})


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
