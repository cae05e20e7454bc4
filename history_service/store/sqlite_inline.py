"""SQLite calls made on the event loop's own thread, instead of on aiosqlite's worker thread.

aiosqlite hands every call to a worker thread and back: two thread switches and a self-pipe
wake-up per statement, and inside an executemany a GIL handoff per row that waits for the
loop thread's switch interval whenever the loop is busy (fanning out to watchers, say). All of
it is paid while the single SQLite writer holds the lock. The calls of this store are short and
CPU-bound (a local file; WAL commits do not fsync), so running them where they are awaited is
cheaper: `make bench` measured 10-node runs at about 90 runs/s with the worker thread and about
180 without it, on 2 cores.

The price: a call blocks the event loop while it runs, SQLite's busy wait included. So writers of
this process must queue on an asyncio lock, never on SQLite's lock (the store does), and one
history process owns a SQLite file (replicas share PostgreSQL).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine


def run_inline(engine: AsyncEngine) -> None:
    """Make every connection `engine` opens from now on an inline one."""
    event.listen(engine.sync_engine, "do_connect", _connect_inline)


def _connect_inline(dialect: Dialect, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    # SQLAlchemy's aiosqlite adapter accepts a creator of the aiosqlite connection it wraps;
    # returning the wrapped connection here replaces SQLAlchemy's own connect.
    def creator(*args: Any, **kwargs: Any) -> InlineConnection:
        return InlineConnection(functools.partial(sqlite3.connect, *args, **kwargs))

    dbapi: Any = dialect.loaded_dbapi
    return dbapi.connect(*cargs, async_creator_fn=creator, **cparams)


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection API, with each call run as soon as it is made."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # aiosqlite (and SQLAlchemy's adapter) put (future, call) pairs on this queue for the
        # worker thread; here they run at once, so awaiting the future never suspends.
        self._tx = _RunAtOnce()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # without starting the worker thread

    def __del__(self) -> None:
        # SQLAlchemy drops, unclosed, a connection it cannot await the closing of (one whose task
        # was cancelled while it held it); aiosqlite then only warns, as its worker thread cannot
        # be joined from a finalizer. An inline connection has no thread: close it here, as
        # sqlite3 closes its own connections when they are collected.
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class _RunAtOnce:
    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, call = item
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - handed to the caller, as the worker thread does
            if future is not None:
                future.set_exception(error)
        else:
            if future is not None:
                future.set_result(result)
