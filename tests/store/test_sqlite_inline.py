"""The SQLite store makes its calls on the event loop's thread (see store/sqlite_inline.py)."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import warnings
from pathlib import Path

import pytest
from store_helpers import make_workflow

from history_service.store import HistoryStore
from history_service.store.sqlite_inline import InlineConnection


async def test_sqlite_calls_start_no_worker_thread(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    store = await HistoryStore.open(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    try:
        await store.put_workflow(make_workflow())
        await asyncio.gather(*(store.list_workflows(10, "") for _ in range(5)))
        assert set(threading.enumerate()) - before == set()
    finally:
        await store.close()


async def test_concurrent_writers_all_complete(tmp_path: Path) -> None:
    """Many tasks writing at once each wait their turn on the store's lock; none waits in SQLite's
    busy handler, which on the loop's thread would block the lock's holder too (the timeout
    guards against that deadlock, it measures no speed)."""
    store = await HistoryStore.open(f"sqlite+aiosqlite:///{tmp_path}/history.db")
    try:
        workflows = [make_workflow(workflow_id=f"w{i}") for i in range(20)]
        stored = await asyncio.wait_for(asyncio.gather(*(store.put_workflow(w) for w in workflows)), 10)
        assert sorted(w.id for w, _ in stored) == sorted(w.id for w in workflows)
    finally:
        await store.close()


async def test_an_inline_connection_dropped_unclosed_closes_itself_without_a_warning(tmp_path: Path) -> None:
    # What SQLAlchemy does with a connection whose task was cancelled while holding it.
    connection = await InlineConnection(lambda: sqlite3.connect(tmp_path / "dropped.db"))
    raw = connection._connection
    assert raw is not None

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del connection
        gc.collect()

    with pytest.raises(sqlite3.ProgrammingError):  # closed
        raw.execute("select 1")
