"""PostgreSQL transaction-scoped advisory locks: the one helper for "only one replica at a
time does this" (declaring one dedup key, deciding one alert group, migrating). On SQLite
write transactions are already serial (BEGIN IMMEDIATE), so it does nothing there."""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import text

MIGRATIONS = 7203441  # the key migrations take (a number any version agrees on)


def key_of(name: str) -> int:
    return zlib.crc32(name.encode())


def is_postgresql(session: Any) -> bool:
    """Whether a session (sync or async) talks to PostgreSQL."""
    return bool(session.get_bind().dialect.name == "postgresql")


def xact_lock(session: Any, name: str) -> None:
    """Hold the lock on `name` until the (synchronous) session's transaction ends."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key_of(name)})
