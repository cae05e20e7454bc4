"""Engine and session factory for the history database: SQLite (WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import StaticPool

from history_service.store.sqlite_inline import run_inline

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for the write lock before giving up, in milliseconds."""
POSTGRES_CONNECT_TIMEOUT = 10.0  # seconds
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 20
POSTGRES_POOL_RECYCLE = 1800  # seconds

IMMEDIATE = "resumeflow_sqlite_immediate"
"""Execution option: begin the transaction with BEGIN IMMEDIATE on SQLite (ignored elsewhere).

A write transaction that reads first and writes later would otherwise hold a read snapshot
and fail at once with SQLITE_BUSY (no busy wait) when another connection committed in between.
Taking the write lock up front makes writers queue on `busy_timeout` instead.
"""

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}


def database_url(url: str | URL) -> URL:
    """Parse `url`, choosing the async driver when only the backend is named."""
    parsed = make_url(url)
    driver = _DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def create_engine(url: str | URL) -> AsyncEngine:
    """Create the async engine for `url`, tuned for its backend.

    Args:
        url: A SQLAlchemy URL: `sqlite+aiosqlite:///path/history.db` or
            `postgresql+asyncpg://user@host/db` (a bare `sqlite://` / `postgresql://` picks
            the async driver).

    Returns:
        An engine; nothing is connected yet.

    Raises:
        sqlalchemy.exc.ArgumentError: The URL cannot be parsed.
        sqlalchemy.exc.NoSuchModuleError: The URL names an unknown backend or driver.
        OSError: The SQLite file's directory cannot be created.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() == "postgresql":
        return _create_async_engine(
            parsed,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_pre_ping=True,
            pool_recycle=POSTGRES_POOL_RECYCLE,
            connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT},
        )
    return _create_async_engine(parsed)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The one session factory of a store: objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: URL) -> AsyncEngine:
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {}
    if in_memory:
        # Every connection to ":memory:" is a database of its own: share one.
        options["poolclass"] = StaticPool
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = _create_async_engine(url, **options)
    run_inline(engine)
    event.listen(engine.sync_engine, "connect", _sqlite_on_connect(wal=not in_memory))
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_on_connect(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling leaves SELECTs outside transactions;
        # SQLAlchemy emits BEGIN itself instead (see `_sqlite_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
