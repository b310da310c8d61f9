"""A fresh, empty PostgreSQL database for one test or benchmark run, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


class PostgresUnavailable(Exception):
    """The admin server cannot be reached; the message says where and why."""


@asynccontextmanager
async def fresh_database(admin_dsn: str, prefix: str = "foghorn") -> AsyncIterator[str]:
    """Create a database on the server of `admin_dsn` (a `postgresql://` URL) and yield its
    SQLAlchemy URL (asyncpg driver). Raises PostgresUnavailable if the server is away."""
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise PostgresUnavailable(f"PostgreSQL not reachable at {admin_dsn}: {exc}") from None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    server = admin_dsn.rsplit("/", 1)[0].removeprefix("postgresql://")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{server}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
