"""The database handle: engine set-up per backend, write/read transactions, migrations at start.

SQLite: WAL journal, synchronous=NORMAL, a busy timeout and foreign keys on every connection.
Write transactions start with `BEGIN IMMEDIATE`, because a transaction that reads and then
writes under a plain `BEGIN` fails with "database is locked" at once, whatever the busy timeout.
Reads run on a second engine whose transactions start with a plain (deferred) `BEGIN`, so they
never queue behind a writer in WAL mode. SQLite allows one writer at a time; within a process
writers wait their turn in `WriteTurn` (Slack-facing writes first), because SQLite's own busy
handler waits by sleeping in growing steps (up to 100 ms), which made the slowest of many
concurrent writes take a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from bot.store import locks, pg_url
from bot.store.health import WriteHealth
from bot.store.outage import Outage

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
DEFAULT_TIMEOUT = 10.0  # seconds: connect, statement, pool wait (DATABASE_TIMEOUT)


def _configure_sqlite(engine: Engine, *, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so our BEGIN is the one used.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)


def _sqlite_engine(url: str, *, begin: str, pool_size: int = 5) -> AsyncEngine:
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
                                 pool_size=pool_size, hide_parameters=True)
    _configure_sqlite(engine.sync_engine, begin=begin)
    return engine


def _sqlite_sync_engine(url: str) -> Engine:
    """The same file through the plain sqlite3 driver, for `Database.write_sync`."""
    engine = create_engine(make_url(url).set(drivername="sqlite"),
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         "check_same_thread": False},
                           hide_parameters=True)
    _configure_sqlite(engine, begin="BEGIN IMMEDIATE")
    return engine


class WriteTurn:
    """SQLite's one writer at a time, taken in arrival order, except that writers on the path
    of an acknowledgement (`urgent`) go before background writers: a declare or a message
    event waits for at most the write in progress, not for every queued background step."""

    def __init__(self) -> None:
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def __call__(self, urgent: bool) -> AsyncIterator[None]:
        if self._busy:
            turn = asyncio.get_running_loop().create_future()
            (self._urgent if urgent else self._normal).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if not turn.cancelled():  # the turn was handed over just before: pass it on
                    self._release()
                raise
        self._busy = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for line in (self._urgent, self._normal):
            while line:
                turn = line.popleft()
                if not turn.done():  # a cancelled waiter left the line
                    turn.set_result(None)  # the turn passes on; still busy
                    return
        self._busy = False


class Database:
    """Owns the engines; hands out write and read sessions."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 connect_timeout: float | None = None) -> None:
        """`timeout` bounds every database call: connecting, each statement (and the
        pool's liveness ping), waiting for a pooled connection; on SQLite, waiting for the
        write lock. A server that stops answering (a black-holed network path) then costs
        one failed call, never a writer stuck for good. `connect_timeout` (default: `timeout`)
        bounds opening a PostgreSQL connection. A SQLite file's folder must exist
        (`store.opening` makes it, or says why it cannot)."""
        self.url = url
        self.connect_timeout = connect_timeout or timeout
        self.is_sqlite = url.startswith("sqlite")
        self.timeout = timeout
        self.health = WriteHealth(stuck_after=2 * timeout)
        # The background loops' failures, said once per change of state (store.outage).
        self.outage = Outage("the database", timeout)
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
            # Readers run side by side in WAL mode; a pool big enough for a burst keeps
            # aiosqlite from starting (and stopping) a thread per overflow connection.
            self.read_engine = _sqlite_engine(url, begin="BEGIN", pool_size=20)
        else:
            # Providers' libpq URLs (sslmode, options...) made into asyncpg's arguments.
            plain, libpq = pg_url.translate(url)
            self.engine = create_async_engine(
                plain, pool_pre_ping=True, pool_size=10, pool_timeout=timeout,
                # A failing statement's error never carries its parameters (message
                # text, alert payloads) into the log.
                hide_parameters=True,
                connect_args={"timeout": self.connect_timeout, "command_timeout": timeout,
                              **libpq})
            self.read_engine = self.engine
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._write_turn = WriteTurn() if self.is_sqlite else None
        self._sync_engine = _sqlite_sync_engine(url) if self.is_sqlite else None
        self._sync_thread = (ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
                             if self.is_sqlite else None)

    @asynccontextmanager
    async def write(self, *, urgent: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on error. `urgent`: Slack
        is waiting for this one (see WriteTurn)."""
        turn = self._write_turn(urgent) if self._write_turn else contextlib.nullcontext()
        async with turn:
            token = self.health.started()
            try:
                async with self._writer() as session, session.begin():
                    yield session
            except BaseException as exc:
                self.health.finished(token, exc if _a_database_fault(exc) else None)
                raise
            self.health.finished(token)

    async def write_sync(self, fn: Callable[[Session], T], *, urgent: bool = False) -> T:
        """Run `fn`, plain synchronous SQLAlchemy, as one write transaction.

        For hot paths. aiosqlite runs every statement on its own thread, so a transaction
        costs a hand-over to that thread and back for each statement (about 2.7 ms for a
        group-committed batch of 20 messages); here SQLite runs the whole transaction on one
        thread of ours in a single hand-over (about 0.3 ms). PostgreSQL's driver is async
        throughout, so there `fn` runs in an ordinary write transaction."""
        if self._sync_thread is None:
            async with self.write(urgent=urgent) as session:
                return await session.run_sync(fn)
        assert self._write_turn is not None
        async with self._write_turn(urgent):
            token = self.health.started()
            done = asyncio.get_running_loop().run_in_executor(
                self._sync_thread, self._sync_transaction, fn)
            try:
                result = await asyncio.shield(done)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await done  # keep the turn until the thread has finished writing
                self.health.finished(token)
                raise
            except Exception as exc:
                self.health.finished(token, exc if _a_database_fault(exc) else None)
                raise
            self.health.finished(token)
            return result

    def _sync_transaction(self, fn: Callable[[Session], T]) -> T:
        with Session(self._sync_engine, expire_on_commit=False) as session, session.begin():
            return fn(session)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest revision (safe with several replicas)."""
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                # One replica migrates at a time; the others wait, then find nothing to do.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                   {"k": locks.MIGRATIONS})
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        async with self.read_engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self._sync_thread is not None and self._sync_engine is not None:
            self._sync_thread.shutdown(wait=True)
            self._sync_engine.dispose()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _a_database_fault(exc: BaseException) -> bool:
    """A failure of the database itself (not of the caller's logic, nor a unique key that
    settled a race) makes writes unhealthy."""
    if isinstance(exc, IntegrityError):
        return False
    return isinstance(exc, DBAPIError | OSError | TimeoutError)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(sync_conn: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, "head")


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    return Path(path).expanduser() if path and path != ":memory:" else None
