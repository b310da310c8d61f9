"""Repository functions: the only SQL in Foghorn. Each takes the session of the caller's
transaction, so a service method can change several rows atomically."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.incidents.model import RESOLVED, Incident, TimelineEntry
from bot.store import locks
from bot.store.tables import (
    HomeViewerRow,
    IncidentRow,
    ProcessedEventRow,
    ReminderRow,
    RoleAssignmentRow,
    TimelineEntryRow,
)


def _to_incident(row: IncidentRow, roles: dict[str, str]) -> Incident:
    return Incident(
        id=row.id,
        title=row.title,
        description=row.description,
        severity=row.severity,
        status=row.status,
        is_private=row.is_private,
        declared_by=row.declared_by,
        declared_at=row.declared_at,
        last_update_at=row.last_update_at,
        setup_done=row.setup_done,
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        card_ts=row.card_ts,
        announcement_ts=row.announcement_ts,
        origin_channel_id=row.origin_channel_id,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        summary=row.summary,
        postmortem_at=row.postmortem_at,
        postmortem_done_at=row.postmortem_done_at,
        type=row.type,
        detected_at=row.detected_at,
        history_synced_ts=row.history_synced_ts,
        team_id=row.team_id,
        version=row.version,
        channel_lost=row.channel_lost,
        roles=roles,
    )


async def _roles_for(session: AsyncSession, ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in ids}
    if ids:
        rows = await session.scalars(
            select(RoleAssignmentRow).where(RoleAssignmentRow.incident_id.in_(ids))
        )
        for r in rows:
            out[r.incident_id][r.role] = r.user_id
    return out


async def _many(session: AsyncSession, stmt: Any) -> list[Incident]:
    rows = list(await session.scalars(stmt))
    roles = await _roles_for(session, [r.id for r in rows])
    return [_to_incident(r, roles[r.id]) for r in rows]


async def insert_incident(session: AsyncSession, **fields: Any) -> int:
    row = IncidentRow(**fields)
    session.add(row)
    await session.flush()
    return row.id


def register_incident(session: Session, *, since: datetime, fields: dict[str, Any],
                      declared: dict[str, Any], reminders: list[tuple[str, datetime, int]]
                      ) -> int | Incident:
    """Insert a declared incident with its `declared` timeline entry and first reminders,
    unless one with the same `dedup_key` was declared after `since`. Returns the new
    incident, or the existing one's id. Synchronous: runs inside `Database.write_sync`.

    SQLite write transactions are already serial (BEGIN IMMEDIATE); on PostgreSQL an
    advisory lock on the key stops two replicas both passing the check before the insert."""
    key = fields["dedup_key"]
    locks.xact_lock(session, key)
    existing = session.scalar(
        select(IncidentRow.id)
        .where(IncidentRow.dedup_key == key, IncidentRow.declared_at >= since)
        .order_by(IncidentRow.id.desc()).limit(1))
    if existing is not None:
        return int(existing)
    row = IncidentRow(**fields)
    session.add(row)
    session.flush()
    session.add(TimelineEntryRow(incident_id=row.id, **declared))
    session.add_all(new_reminder_row(row.id, kind, due_at, step)
                    for kind, due_at, step in reminders)
    return _to_incident(row, {})


async def get_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    found = await _many(session, select(IncidentRow).where(IncidentRow.id == incident_id))
    return found[0] if found else None


async def lock_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    """The incident, read for a change: on PostgreSQL its row stays locked (FOR UPDATE)
    until the transaction ends, so simultaneous changes to one incident (two people taking
    a role, ticking, resolving) happen one after the other, each seeing the last. SQLite's
    write transactions (BEGIN IMMEDIATE) are one at a time already."""
    found = await _many(session, select(IncidentRow).where(IncidentRow.id == incident_id)
                        .with_for_update())
    return found[0] if found else None


async def get_by_channel(session: AsyncSession, channel_id: str) -> Incident | None:
    found = await _many(session, select(IncidentRow).where(IncidentRow.channel_id == channel_id))
    return found[0] if found else None


def incident_ids_by_channel(session: Session, channel_ids: list[str]) -> dict[str, int]:
    """The incidents that own these channels, as channel id → incident id. Synchronous."""
    rows = session.execute(select(IncidentRow.channel_id, IncidentRow.id)
                           .where(IncidentRow.channel_id.in_(channel_ids)))
    return {str(channel): int(incident) for channel, incident in rows.all()}


async def get_by_channel_name(session: AsyncSession, name: str) -> Incident | None:
    found = await _many(session, select(IncidentRow).where(IncidentRow.channel_name == name))
    return found[0] if found else None


async def update_incident(session: AsyncSession, incident_id: int, **fields: Any) -> None:
    """Change the incident's row; its version counts up (see IncidentRow.version)."""
    await session.execute(update(IncidentRow).where(IncidentRow.id == incident_id)
                          .values(**fields, version=IncidentRow.version + 1))


async def is_resolved(session: AsyncSession, incident_id: int) -> bool:
    return await session.scalar(select(IncidentRow.status)
                                .where(IncidentRow.id == incident_id)) == RESOLVED


async def version_of(session: AsyncSession, incident_id: int) -> int | None:
    return await session.scalar(select(IncidentRow.version)
                                .where(IncidentRow.id == incident_id))


async def delete_incident(session: AsyncSession, incident_id: int) -> None:
    """Remove an incident and, by cascade, everything recorded about it."""
    await session.execute(delete(IncidentRow).where(IncidentRow.id == incident_id))


async def claim_channel(session: AsyncSession, incident_id: int, channel_id: str,
                        name: str) -> bool:
    """Make the channel this incident's; False (and nothing changed) if another incident
    holds it already: the unique channel_id settles a race between two declares."""
    try:
        async with session.begin_nested():
            await update_incident(session, incident_id, channel_id=channel_id,
                                  channel_name=name)
    except IntegrityError:
        return False
    return True


async def list_open(session: AsyncSession, team_id: str | None = None) -> list[Incident]:
    """Open incidents whose declare has finished (of one workspace when `team_id` is given)."""
    stmt = select(IncidentRow).where(IncidentRow.status != RESOLVED,
                                     IncidentRow.setup_done.is_(True))
    return await _many(session, _in_team(stmt, team_id).order_by(IncidentRow.declared_at))


async def list_declared_since(session: AsyncSession, since: datetime,
                              team_id: str | None = None) -> list[Incident]:
    """Incidents declared at or after `since` (of one workspace when `team_id` is given)."""
    stmt = select(IncidentRow).where(IncidentRow.declared_at >= since)
    return await _many(session, _in_team(stmt, team_id).order_by(IncidentRow.declared_at))


async def list_resolved(session: AsyncSession, limit: int, team_id: str | None = None
                        ) -> list[Incident]:
    """The most recently resolved incidents, newest first."""
    stmt = select(IncidentRow).where(IncidentRow.status == RESOLVED)
    return await _many(session, _in_team(stmt, team_id)
                       .order_by(IncidentRow.resolved_at.desc(), IncidentRow.id.desc())
                       .limit(limit))


async def open_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Open incidents per (severity, type), across workspaces (for /metrics)."""
    rows = await session.execute(
        select(IncidentRow.severity, IncidentRow.type, func.count())
        .where(IncidentRow.status != RESOLVED)
        .group_by(IncidentRow.severity, IncidentRow.type))
    return {(str(sev), str(kind or "")): int(n) for sev, kind, n in rows.all()}


def _in_team(stmt: Any, team_id: str | None) -> Any:
    return stmt if team_id is None else stmt.where(IncidentRow.team_id == team_id)


async def list_unfinished_setup(session: AsyncSession) -> list[Incident]:
    return await _many(
        session,
        select(IncidentRow).where(IncidentRow.setup_done.is_(False)).order_by(IncidentRow.id),
    )


async def set_role(
    session: AsyncSession, incident_id: int, role: str, user_id: str, by: str, at: datetime
) -> str | None:
    """Give `role` to `user_id`; return the previous holder, if any."""
    row = await session.get(RoleAssignmentRow, (incident_id, role))
    previous = row.user_id if row else None
    if row is None:
        session.add(
            RoleAssignmentRow(
                incident_id=incident_id, role=role, user_id=user_id, assigned_by=by, assigned_at=at
            )
        )
    else:
        row.user_id, row.assigned_by, row.assigned_at = user_id, by, at
    await session.flush()
    await update_incident(session, incident_id)  # a new version of the incident
    return previous


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
    declared = _in_team(select(IncidentRow.id).where(IncidentRow.declared_at >= since), team_id)
    return await _entries(session, _ENTRY.where(
        TimelineEntryRow.incident_id.in_(declared.scalar_subquery()),
        TimelineEntryRow.kind.in_(kinds)).order_by(TimelineEntryRow.occurred_at,
                                                   TimelineEntryRow.id))


def _to_entry(r: TimelineEntryRow) -> TimelineEntry:
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
        found.extend(TimelineEntry(*row[:6], dict(row[6] or {}), *row[7:]) for row in part)
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


# ----- App Home viewers --------------------------------------------------------------------
async def home_opened(session: AsyncSession, team_id: str, user_id: str, at: datetime) -> None:
    stmt = insert_for(session)(HomeViewerRow).values(team_id=team_id, user_id=user_id,
                                                  opened_at=at)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["team_id", "user_id"], set_={"opened_at": at}))


async def home_viewers(session: AsyncSession, team_id: str, since: datetime, limit: int
                       ) -> list[str]:
    """Who opened the Home since `since`, most recent first."""
    return list(await session.scalars(
        select(HomeViewerRow.user_id)
        .where(HomeViewerRow.team_id == team_id, HomeViewerRow.opened_at >= since)
        .order_by(HomeViewerRow.opened_at.desc()).limit(limit)))


# ----- checklists ---------------------------------------------------------------------------
def new_reminder_row(incident_id: int, kind: str, due_at: datetime, step: int) -> ReminderRow:
    """A pending reminder row (planned with the change that causes it)."""
    return ReminderRow(incident_id=incident_id, kind=kind, step=step, due_at=due_at,
                       status="pending", attempts=0)


def insert_for(session: AsyncSession | Session) -> Any:
    """INSERT with ON CONFLICT support for the session's dialect."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
