"""Timeline entries and the Events API ids already taken (tables.TimelineEntryRow,
tables.ProcessedEventRow): writing them once, reading them in order, in chunks."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.incidents.model import TimelineEntry
from bot.store.repo import in_team, insert_for
from bot.store.tables import IncidentRow, ProcessedEventRow, TimelineEntryRow


async def add_entry(
    session: AsyncSession,
    incident_id: int,
    kind: str,
    at: datetime,
    actor: str | None,
    text_: str = "",
    data: dict[str, Any] | None = None,
    slack_ts: str | None = None,
) -> int:
    row = TimelineEntryRow(
        incident_id=incident_id,
        kind=kind,
        occurred_at=at,
        actor=actor,
        text=text_,
        data=data or {},
        slack_ts=slack_ts,
    )
    session.add(row)
    await session.flush()
    return row.id


async def entries_of_declared_since(session: AsyncSession, since: datetime,
                                    team_id: str | None, kinds: tuple[str, ...]
                                    ) -> list[TimelineEntry]:
    """The timeline entries of these kinds of the incidents `list_declared_since` returns,
    oldest first (a subquery, not a list of ids: a quarter's incidents can be thousands)."""
    declared = in_team(select(IncidentRow.id).where(IncidentRow.declared_at >= since), team_id)
    return await _entries(session, _ENTRY.where(
        TimelineEntryRow.incident_id.in_(declared.scalar_subquery()),
        TimelineEntryRow.kind.in_(kinds)).order_by(TimelineEntryRow.occurred_at,
                                                   TimelineEntryRow.id))


def _to_entry(r: Any) -> TimelineEntry:
    """An entry from a TimelineEntryRow, or a plain row of `_ENTRY`'s columns (same names)."""
    return TimelineEntry(
        id=r.id,
        incident_id=r.incident_id,
        kind=r.kind,
        occurred_at=r.occurred_at,
        actor=r.actor,
        text=r.text,
        data=dict(r.data or {}),
        slack_ts=r.slack_ts,
        thread_ts=r.thread_ts,
        key_event=r.key_event,
        deleted=r.deleted,
        edited_at=r.edited_at,
    )


# The marker left by the deletion of a message never stored: it keeps a late delivery of
# that message out, and is never shown or exported.
UNSEEN_DELETION = "unseen_deletion"


def _shown(incident_id: int) -> tuple[Any, ...]:
    return (TimelineEntryRow.incident_id == incident_id,
            TimelineEntryRow.kind != UNSEEN_DELETION)


async def list_entries(session: AsyncSession, incident_id: int) -> list[TimelineEntry]:
    return await _entries(session, _ENTRY.where(*_shown(incident_id))
                          .order_by(TimelineEntryRow.occurred_at, TimelineEntryRow.id))


ENTRIES_AT_ONCE = 500
_ENTRY = select(TimelineEntryRow.id, TimelineEntryRow.incident_id, TimelineEntryRow.kind,
                TimelineEntryRow.occurred_at, TimelineEntryRow.actor, TimelineEntryRow.text,
                TimelineEntryRow.data, TimelineEntryRow.slack_ts, TimelineEntryRow.thread_ts,
                TimelineEntryRow.key_event, TimelineEntryRow.deleted,
                TimelineEntryRow.edited_at)


async def _entries(session: AsyncSession, stmt: Any) -> list[TimelineEntry]:
    """Every entry the statement (of `_ENTRY`'s columns) selects, as plain rows (no ORM
    objects: five times cheaper), ENTRIES_AT_ONCE at a time with the event loop let go in
    between: turning 20,000 rows into objects at once held every other request (acks
    included) for hundreds of milliseconds."""
    found: list[TimelineEntry] = []
    result = await session.stream(stmt.execution_options(yield_per=ENTRIES_AT_ONCE))
    async for part in result.partitions(ENTRIES_AT_ONCE):
        found.extend(_to_entry(r) for r in part)
        await asyncio.sleep(0)
    return found


async def latest_entries(session: AsyncSession, incident_id: int, limit: int
                         ) -> tuple[list[TimelineEntry], int]:
    """The newest `limit` entries, oldest first, and how many entries there are in all."""
    total = await session.scalar(
        select(func.count()).select_from(TimelineEntryRow).where(*_shown(incident_id)))
    rows = await session.scalars(
        select(TimelineEntryRow)
        .where(*_shown(incident_id))
        .order_by(TimelineEntryRow.occurred_at.desc(), TimelineEntryRow.id.desc())
        .limit(limit))
    return [_to_entry(r) for r in reversed(list(rows))], int(total or 0)


async def insert_message(session: AsyncSession, incident_id: int, *, kind: str, at: datetime,
                         actor: str | None, text_: str, slack_ts: str, thread_ts: str | None,
                         data: dict[str, Any]) -> bool:
    """Store a channel message once; False when an entry for its ts already exists."""
    row = {"incident_id": incident_id, "kind": kind, "occurred_at": at, "actor": actor,
           "text": text_, "slack_ts": slack_ts, "thread_ts": thread_ts, "data": data}
    return bool(await session.run_sync(insert_messages, [row]))


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> set[tuple[int, str]]:
    """Store many channel messages (each once); returns the (incident_id, slack_ts) of those
    that were new. Synchronous: runs inside `Database.write_sync`."""
    if not rows:
        return set()
    values = [{"key_event": False, "deleted": False, **r} for r in rows]
    stmt = (insert_for(session)(TimelineEntryRow)
            .on_conflict_do_nothing(index_elements=["incident_id", "slack_ts"])
            .returning(TimelineEntryRow.incident_id, TimelineEntryRow.slack_ts))
    # executemany form: the statement compiles once and is cached, whatever the batch size
    return {(i, str(ts)) for i, ts in session.execute(stmt, values).all()}


async def entry_by_ts(session: AsyncSession, incident_id: int, slack_ts: str
                      ) -> TimelineEntryRow | None:
    """The row itself (for the caller's transaction to change), or None."""
    return await session.scalar(
        select(TimelineEntryRow).where(TimelineEntryRow.incident_id == incident_id,
                                       TimelineEntryRow.slack_ts == slack_ts))


async def claim_event(session: AsyncSession, event_id: str, at: datetime) -> bool:
    """Record an Events API delivery; False if this event_id was handled before."""
    return event_id in await session.run_sync(claim_events, [event_id], at)


def claim_events(session: Session, event_ids: list[str], at: datetime) -> set[str]:
    """Record many Events API deliveries at once; returns the ids not handled before.
    Synchronous: runs inside `Database.write_sync`."""
    if not event_ids:
        return set()
    stmt = (insert_for(session)(ProcessedEventRow)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(ProcessedEventRow.event_id))
    values = [{"event_id": e, "received_at": at} for e in dict.fromkeys(event_ids)]
    return set(session.scalars(stmt, values).all())


async def forget_events_before(session: AsyncSession, cutoff: datetime) -> None:
    await session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.received_at < cutoff))


async def thread_roots(session: AsyncSession, incident_id: int, recent: int) -> set[str]:
    """Threads worth checking for new replies: those with stored replies, and the newest
    `recent` top-level messages (where new replies most often land)."""
    known = await session.scalars(
        select(TimelineEntryRow.thread_ts).where(TimelineEntryRow.incident_id == incident_id,
                                                 TimelineEntryRow.thread_ts.is_not(None))
        .distinct())
    latest = await session.scalars(
        select(TimelineEntryRow.slack_ts)
        .where(TimelineEntryRow.incident_id == incident_id,
               TimelineEntryRow.slack_ts.is_not(None), TimelineEntryRow.thread_ts.is_(None))
        .order_by(TimelineEntryRow.occurred_at.desc()).limit(recent))
    return {ts for ts in [*known, *latest] if ts}


