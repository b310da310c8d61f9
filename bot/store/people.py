"""People's display names, remembered from Slack (see tables.PersonRow)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.repo import insert_for
from bot.store.tables import PersonRow


async def remember(session: AsyncSession, team_id: str, names: Mapping[str, str],
                   at: datetime) -> None:
    for user, name in sorted(names.items()):
        stmt = insert_for(session)(PersonRow).values(team_id=team_id, user_id=user,
                                                 name=name[:120], seen_at=at)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["team_id", "user_id"], set_={"name": name[:120], "seen_at": at}))


async def names(session: AsyncSession, team_id: str, users: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(users))
    if not wanted:
        return {}
    rows = await session.execute(select(PersonRow.user_id, PersonRow.name).where(
        PersonRow.team_id == team_id, PersonRow.user_id.in_(wanted)))
    return {user: name for user, name in rows.all()}
