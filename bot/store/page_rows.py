"""Pages to PagerDuty and Opsgenie (tables.PageRow): stored once per incident, target and
dedup key, then what became of them. See bot.paging.pager."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import repo
from bot.store.tables import PageRow

PENDING, SENT, FAILED, RESOLVED, CANCELLED = (
    "pending", "sent", "failed", "resolved", "cancelled")


async def add(session: AsyncSession, incident_id: int, target: str, dedup_key: str,
              payload: dict[str, Any], at: datetime) -> int | None:
    """The new page's id; None when it exists already (the transaction goes on)."""
    exists = await session.scalar(select(PageRow.id).where(
        PageRow.incident_id == incident_id, PageRow.target == target,
        PageRow.dedup_key == dedup_key))
    if exists is not None:
        return None
    row = PageRow(incident_id=incident_id, target=target, dedup_key=dedup_key,
                  status=PENDING, attempts=0, payload=payload, created_at=at)
    return int(row.id) if await repo.add_once(session, row) else None


async def get(session: AsyncSession, page_id: int) -> PageRow | None:
    return await session.get(PageRow, page_id)


async def count(session: AsyncSession, page_id: int, error: str) -> None:
    await session.execute(update(PageRow).where(PageRow.id == page_id).values(
        attempts=PageRow.attempts + 1, last_error=error[:300]))


async def finish(session: AsyncSession, page_id: int, error: str | None, at: datetime
                 ) -> None:
    """Sent (no error) or failed for good; only a page still pending changes."""
    values: dict[str, Any] = ({"status": SENT, "sent_at": at, "last_error": None}
                              if error is None else {"status": FAILED,
                                                     "last_error": error[:300]})
    await session.execute(update(PageRow).where(PageRow.id == page_id,
                                                PageRow.status == PENDING).values(**values))


async def sent(session: AsyncSession, incident_id: int) -> list[PageRow]:
    return list(await session.scalars(select(PageRow).where(
        PageRow.incident_id == incident_id, PageRow.status == SENT)))


async def cancel_pending(session: AsyncSession, incident_id: int) -> int:
    result = await session.execute(update(PageRow).where(
        PageRow.incident_id == incident_id, PageRow.status == PENDING).values(
        status=CANCELLED))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has it


async def resolved(session: AsyncSession, page_id: int, at: datetime) -> None:
    await session.execute(update(PageRow).where(PageRow.id == page_id).values(
        status=RESOLVED, resolved_at=at))
