"""Timestamps leave the store timezone-aware in UTC, whatever zone they came in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite
from store_helpers import RUNNER, finished_event, node_event, start_run

from history_service.store import HistoryStore
from history_service.store.models import UTCDateTime
from resumeflow_core.records import NodeResult, RunEnd
from resumeflow_core.status import NodeStatus, RunStatus


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def test_stored_timestamps_come_back_aware_in_utc(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.finish_run(run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 2), [], {}, ""))

    loaded = await store.get_run(run.id)
    workflow = await store.get_workflow("orders")
    (listed,), _ = await store.list_runs("orders")
    events = await store.list_events(run.id)

    times = [loaded.create_time, loaded.start_time, loaded.end_time, listed.create_time]
    times += [workflow.create_time, workflow.update_time] + [e.time for e in events]
    assert all(_is_utc(t) for t in times)


async def test_a_timestamp_in_another_zone_keeps_its_instant(
    store: HistoryStore,
) -> None:
    run = await start_run(store)
    berlin = datetime(2024, 3, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await store.append_events(
        run.id,
        RUNNER,
        [node_event(run.id, 2, "start", NodeStatus.RUNNING)],
        [NodeResult("start", NodeStatus.RUNNING, 1, start_time=berlin)],
    )

    stored = (await store.get_run(run.id)).node_results[0].start_time

    assert stored == berlin
    assert stored is not None and stored.tzinfo == UTC
    assert stored.hour == 12


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_sqlite_text_is_exactly_what_sqlalchemy_writes(value: datetime) -> None:
    """UTCDateTime writes SQLite's DATETIME text itself (faster); rows written either way compare
    and sort alike, so it must be the same text."""
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    sqlalchemys = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and sqlalchemys is not None
    assert ours(value) == sqlalchemys(value.replace(tzinfo=None))
    assert ours(value.astimezone(timezone(timedelta(hours=-5)))) == ours(value)


def test_sqlite_text_refuses_a_naive_time() -> None:
    ours = UTCDateTime().bind_processor(sqlite.dialect())
    assert ours is not None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 1, 1))
