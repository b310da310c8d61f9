"""Opening the database at start-up, and saying in one line why it could not be opened.

`open_database` creates or upgrades the schema (`foghorn run`); `open_existing` only reads
(`foghorn export`, `foghorn stats`, `foghorn check`): it never creates a SQLite file nor
migrates, and says so when the database is missing or older than this Foghorn.
"""

from __future__ import annotations

import errno
import socket

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.store.db import Database, alembic_config, sqlite_path

# A server that takes the TCP connection but never answers costs this long at most, whatever
# DATABASE_TIMEOUT says for statements.
CONNECT_TIMEOUT = 5.0


class DatabaseProblem(Exception):
    """The database cannot be used; the message is one line, with no password in it."""


class SchemaBehind(DatabaseProblem):
    """The database is Foghorn's, at an older schema: `foghorn run` upgrades it."""


class SchemaAhead(DatabaseProblem):
    """The database was migrated by a newer Foghorn (a rollback): this one cannot use it."""


def ahead(url: str, revision: str) -> SchemaAhead:
    return SchemaAhead(f"the database {where(url)} was migrated by a newer Foghorn (schema "
                       f"{revision}; this one knows up to {head_revision()}): run that "
                       "version or restore a backup")


def known(revision: str) -> bool:
    """Whether this Foghorn's migrations include `revision`."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:
        return False


async def stored_revision(db: Database) -> tuple[bool, str | None]:
    """(whether the database has any tables, the schema revision it is at)."""
    async with db.read() as s:
        tables = await s.run_sync(
            lambda sync: sync.connection().dialect.get_table_names(sync.connection()))
        revision = None
        if "alembic_version" in tables:
            revision = (await s.execute(text("SELECT version_num FROM alembic_version"))
                        ).scalar()
    return bool(tables), revision


def where(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.partition("://")[0] + "://…"


def explain(exc: BaseException, timeout: float) -> str:
    """What went wrong, in the operator's words (the driver's first line when it says it
    well; never an empty message, never a traceback)."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    for inner in (cause, cause.__cause__, cause.__context__):
        if isinstance(inner, TimeoutError):
            return (f"no answer within {timeout:g} s (is the host and port right? a firewall "
                    "dropping packets?)")
        if isinstance(inner, ConnectionRefusedError) or (
                isinstance(inner, OSError) and inner.errno == errno.ECONNREFUSED):
            return "connection refused (is the database server running on that host and port?)"
        if isinstance(inner, socket.gaierror):
            return "unknown host name"
        if isinstance(inner, OSError) and inner.errno == errno.ENOSPC:
            return "the disk is full"
    message = " ".join(str(cause).split()) if str(cause).strip() else ""
    lowered = message.lower()
    if "disk is full" in lowered or "no space left" in lowered:
        return "the disk is full"
    if "unable to open database file" in lowered:
        return "cannot open the file (does its folder exist, and may this user write there?)"
    if "readonly database" in lowered or "read-only" in lowered:
        return "the file is read-only for this user"
    if "connect call failed" in lowered:
        return "connection refused (is the database server running on that host and port?)"
    first = message.split(" [SQL:")[0][:300]
    return first or type(cause).__name__


def _prepare_sqlite_folder(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseProblem(f"cannot create the folder {folder} for the SQLite database: "
                              f"{exc.strerror or exc}") from None


async def open_database(url: str, db_timeout: float) -> Database:
    """Open (creating a SQLite file if need be) and migrate to the newest schema."""
    _prepare_sqlite_folder(url)
    db = Database(url, timeout=db_timeout, connect_timeout=min(db_timeout, CONNECT_TIMEOUT))
    try:
        _, revision = await stored_revision(db)
        if revision is not None and not known(revision):
            raise ahead(url, revision)
        await db.migrate()
    except SchemaAhead:
        await db.close()
        raise
    except Exception as exc:
        await db.close()
        raise DatabaseProblem(f"cannot open the database {where(url)}: "
                              f"{explain(exc, db.connect_timeout)}") from None
    return db


def head_revision() -> str:
    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


async def open_existing(url: str, db_timeout: float) -> Database:
    """Open a database Foghorn has already set up, for reading: no file is created, no
    migration runs."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise DatabaseProblem(f"no database at {path} (check DATABASE_URL; `foghorn run` "
                              "creates it)")
    db = Database(url, timeout=db_timeout, connect_timeout=min(db_timeout, CONNECT_TIMEOUT))
    try:
        _, revision = await stored_revision(db)
    except Exception as exc:
        await db.close()
        raise DatabaseProblem(f"cannot open the database {where(url)}: "
                              f"{explain(exc, db.connect_timeout)}") from None
    head = head_revision()
    if revision != head:
        await db.close()
        if revision is None:
            raise DatabaseProblem(f"the database {where(url)} holds no Foghorn data (check "
                                  "DATABASE_URL; `foghorn run` sets it up)")
        if not known(revision):
            raise ahead(url, revision)
        raise SchemaBehind(f"the database {where(url)} has schema {revision}, this Foghorn "
                              f"reads {head}: start `foghorn run` once to upgrade it")
    return db
