"""Storage on SQLite and PostgreSQL: migrations, UTC times, repository functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.store import entry_rows, repo
from bot.store.db import Database, alembic_config
from bot.store.tables import Base


def _incident_fields(now: datetime, **over: object) -> dict[str, object]:
    return {"title": "DB down", "severity": "SEV1", "status": "investigating",
            "is_private": False, "setup_done": True, "declared_by": "U1", "declared_at": now,
            "last_update_at": now, **over}


async def test_migrations_build_exactly_the_models_schema(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    assert diff == []


async def test_migrate_is_idempotent_and_keeps_data(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as s:
        await repo.insert_incident(s, **_incident_fields(now))
    await db.migrate()
    async with db.read() as s:
        assert len(await repo.list_open(s)) == 1
        version = (await s.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_times_are_stored_in_utc_and_come_back_aware(db: Database) -> None:
    plus5 = timezone(timedelta(hours=5))
    local = datetime(2026, 11, 23, 17, 30, tzinfo=plus5)
    async with db.write() as s:
        iid = await repo.insert_incident(s, **_incident_fields(local))
    async with db.read() as s:
        inc = await repo.get_incident(s, iid)
        raw = (await s.execute(text("SELECT declared_at FROM incidents"))).scalar()
    assert inc is not None and inc.declared_at == local
    assert inc.declared_at.tzinfo == UTC and inc.declared_at.hour == 12
    assert "12:30" in str(raw)


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.write() as s:
            await repo.insert_incident(s, **_incident_fields(datetime(2026, 1, 1)))


async def test_roles_and_timeline(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as s:
        iid = await repo.insert_incident(s, **_incident_fields(now, channel_id="C1"))
        assert await repo.set_role(s, iid, "ic", "U1", "U9", now) is None
        assert await repo.set_role(s, iid, "ic", "U2", "U9", now) == "U1"
        await entry_rows.add_entry(s, iid, "declared", now, "U9", "DB down", {"severity": "SEV1"})
    async with db.read() as s:
        inc = await repo.get_by_channel(s, "C1")
        entries = await entry_rows.list_entries(s, iid)
    assert inc is not None and inc.roles == {"ic": "U2"}
    assert [(e.kind, e.data) for e in entries] == [("declared", {"severity": "SEV1"})]


async def test_deleting_an_incident_removes_its_rows(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.write() as s:
        iid = await repo.insert_incident(s, **_incident_fields(now))
        await repo.set_role(s, iid, "ic", "U1", "U1", now)
        await entry_rows.add_entry(s, iid, "declared", now, "U1")
    async with db.write() as s:
        await repo.delete_incident(s, iid)
    async with db.read() as s:
        left = (await s.execute(text(
            "SELECT (SELECT count(*) FROM role_assignments) + "
            "(SELECT count(*) FROM timeline_entries)"))).scalar()
    assert left == 0


async def test_sqlite_pragmas(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    await database.migrate()
    async with database.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
        busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar()
    await database.close()
    assert (mode, fks, busy) == ("wal", 1, 10000)


async def test_upgrade_from_the_first_release_keeps_data(db_url: str) -> None:
    """A database made by revision 0001 (with data) upgrades to the newest schema."""
    from alembic import command

    from bot.store.db import alembic_config

    def upgrade_to(rev: str):
        def run(sync_conn):
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, rev)
        return run

    old = Database(db_url)
    async with old.engine.begin() as conn:
        await conn.run_sync(upgrade_to("0001"))
        await conn.execute(text(
            "INSERT INTO incidents (title, description, severity, status, is_private, "
            "setup_done, channel_id, declared_by, declared_at, last_update_at, team_id) VALUES "
            "('Old one', '', 'SEV2', 'investigating', false, true, 'C9', 'U1', "
            "'2026-01-01 10:00:00', '2026-01-01 10:00:00', '')"))
        await conn.execute(text(
            "INSERT INTO timeline_entries (incident_id, kind, occurred_at, actor, text, data) "
            "SELECT id, 'declared', declared_at, 'U1', 'Old one', '{}' FROM incidents"))
    await old.close()

    db = Database(db_url)
    await db.migrate()
    async with db.read() as s:
        inc = await repo.get_by_channel(s, "C9")
        assert inc is not None and inc.title == "Old one" and inc.postmortem_at is None
        [entry] = await entry_rows.list_entries(s, inc.id)
        assert entry.kind == "declared" and not entry.key_event and not entry.deleted
    await db.close()
