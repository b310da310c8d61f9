"""Questions waiting for a click: what was asked, stored so the button needs only an id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.tables import ConfirmationRow


async def ask(session: AsyncSession, incident_id: int, kind: str, asked_by: str,
              payload: dict[str, Any], at: datetime) -> int:
    row = ConfirmationRow(incident_id=incident_id, kind=kind, asked_by=asked_by,
                          payload=payload, asked_at=at)
    session.add(row)
    await session.flush()
    return row.id


async def take(session: AsyncSession, confirmation_id: int, *, incident_id: int, kind: str,
               asked_by: str) -> ConfirmationRow | None:
    """The question, removed, if it is this one (asked of `asked_by` about this incident);
    a second click, or anyone else's, finds nothing and removes nothing."""
    row = await session.get(ConfirmationRow, confirmation_id)
    if row is None or (row.incident_id, row.kind, row.asked_by) != (incident_id, kind,
                                                                    asked_by):
        return None
    await session.delete(row)
    return row


async def forget(session: AsyncSession, incident_id: int) -> None:
    """Drop the incident's unanswered questions (it was resolved another way)."""
    await session.execute(delete(ConfirmationRow).where(
        ConfirmationRow.incident_id == incident_id))
