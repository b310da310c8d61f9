"""The checklists posted in incident channels: their message and which items are ticked
(see tables.ChecklistPostRow)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.tables import ChecklistPostRow


async def post_of(session: AsyncSession, incident_id: int, checklist_id: str
                         ) -> ChecklistPostRow | None:
    return await session.scalar(select(ChecklistPostRow).where(
        ChecklistPostRow.incident_id == incident_id,
        ChecklistPostRow.checklist_id == checklist_id))


async def claim(session: AsyncSession, incident_id: int, checklist_id: str
                               ) -> ChecklistPostRow:
    """The incident's row for this checklist, created (unticked) if new; locked on
    PostgreSQL until the transaction ends, so two ticks at once apply one after the other
    (each a diff on the other's result) instead of the later overwriting the earlier."""
    row = await session.scalar(select(ChecklistPostRow).where(
        ChecklistPostRow.incident_id == incident_id,
        ChecklistPostRow.checklist_id == checklist_id).with_for_update())
    if row is None:
        row = ChecklistPostRow(incident_id=incident_id, checklist_id=checklist_id, ticked=[])
        session.add(row)
        await session.flush()
    return row


async def posts_of(session: AsyncSession, incident_id: int) -> list[ChecklistPostRow]:
    return list(await session.scalars(select(ChecklistPostRow).where(
        ChecklistPostRow.incident_id == incident_id).order_by(ChecklistPostRow.id)))
