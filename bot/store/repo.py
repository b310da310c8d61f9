"""Repository functions: the only SQL in Foghorn. Each takes the session of the caller's
transaction, so a service method can change several rows atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.incidents.model import RESOLVED, Incident
from bot.store import locks
from bot.store.tables import (
    HomeViewerRow,
    IncidentRow,
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
        enterprise_id=row.enterprise_id,
        is_shared=row.is_shared,
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


async def adopt_unteamed(session: AsyncSession, team_id: str, enterprise_id: str | None
                         ) -> int:
    """Give incidents stored without a workspace (`team_id` "") this one; how many."""
    result = await session.execute(update(IncidentRow).where(IncidentRow.team_id == "")
                                   .values(team_id=team_id, enterprise_id=enterprise_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult


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


async def add_once(session: AsyncSession, row: object) -> bool:
    """Add a row whose unique key another replica may be adding at the same moment: False
    (and the rest of the transaction goes on) when it exists already."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def list_open(session: AsyncSession, team_id: str | None = None) -> list[Incident]:
    """Open incidents whose declare has finished (of one workspace when `team_id` is given)."""
    stmt = select(IncidentRow).where(IncidentRow.status != RESOLVED,
                                     IncidentRow.setup_done.is_(True))
    return await _many(session, in_team(stmt, team_id).order_by(IncidentRow.declared_at))


async def list_declared_since(session: AsyncSession, since: datetime,
                              team_id: str | None = None) -> list[Incident]:
    """Incidents declared at or after `since` (of one workspace when `team_id` is given)."""
    stmt = select(IncidentRow).where(IncidentRow.declared_at >= since)
    return await _many(session, in_team(stmt, team_id).order_by(IncidentRow.declared_at))


async def list_resolved(session: AsyncSession, limit: int, team_id: str | None = None
                        ) -> list[Incident]:
    """The most recently resolved incidents, newest first."""
    stmt = select(IncidentRow).where(IncidentRow.status == RESOLVED)
    return await _many(session, in_team(stmt, team_id)
                       .order_by(IncidentRow.resolved_at.desc(), IncidentRow.id.desc())
                       .limit(limit))


async def open_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Open incidents per (severity, type), across workspaces (for /metrics)."""
    rows = await session.execute(
        select(IncidentRow.severity, IncidentRow.type, func.count())
        .where(IncidentRow.status != RESOLVED)
        .group_by(IncidentRow.severity, IncidentRow.type))
    return {(str(sev), str(kind or "")): int(n) for sev, kind, n in rows.all()}


def in_team(stmt: Any, team_id: str | None) -> Any:
    """`stmt` limited to one workspace's incidents (all of them when `team_id` is None)."""
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
    return pg_insert if locks.is_postgresql(session) else sqlite_insert
