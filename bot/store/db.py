"""The database handle: engine set-up per backend, write/read transactions, migrations at start.

SQLite: WAL journal, synchronous=NORMAL, a busy timeout and foreign keys on every connection.
Write transactions start with `BEGIN IMMEDIATE`, because a transaction that reads and then
writes under a plain `BEGIN` fails with "database is locked" at once, whatever the busy timeout.
Reads run on a second engine whose transactions start with a plain (deferred) `BEGIN`, so they
never queue behind a writer in WAL mode. SQLite allows one writer at a time; within a process
writers wait their turn on an asyncio lock, because SQLite's own busy handler waits by sleeping
in growing steps (up to 100 ms), which made the slowest of many concurrent writes take a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_engine(url: str, *, begin: str) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so our BEGIN is the one used.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Owns the engines; hands out write and read sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_folder(url)
            self.engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, begin="BEGIN")
        else:
            self.engine = create_async_engine(url, pool_pre_ping=True, pool_size=10)
            self.read_engine = self.engine
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_turn = asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on error."""
        async with self._write_turn, self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest revision (safe with several replicas)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                # One replica migrates at a time; the others wait, then find nothing to do.
                await conn.execute(text("SELECT pg_advisory_xact_lock(7203441)"))
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(sync_conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
