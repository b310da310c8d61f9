"""Reading slack_sdk's installation tables (written by its own store, through Bolt's OAuth
flow) where its store has no query for what Foghorn needs."""

from __future__ import annotations

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.tables import BOTS_TABLE, Base


async def organisation_of(session: AsyncSession, client_id: str, team_id: str) -> str | None:
    """The Enterprise Grid organisation of a workspace that installed Foghorn itself (the
    latest installation's), or None: slack_sdk's store finds a bot only by (organisation,
    workspace), and an incident stored before it knew its organisation has only the
    workspace."""
    bots = Base.metadata.tables[BOTS_TABLE]
    return await session.scalar(
        select(bots.c.enterprise_id)
        .where(bots.c.client_id == client_id, bots.c.team_id == team_id)
        .order_by(desc(bots.c.installed_at)).limit(1))
