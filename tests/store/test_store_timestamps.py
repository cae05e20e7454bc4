"""Timestamps leave the store timezone-aware in UTC, whatever zone they came in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from store_helpers import RUNNER, finished_event, node_event, start_run

from history_service.store import HistoryStore
from resumeflow_core.records import NodeResult
from resumeflow_core.status import NodeStatus, RunStatus


def _is_utc(value: datetime | None) -> bool:
    return value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def test_stored_timestamps_come_back_aware_in_utc(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.finish_run(run.id, RUNNER, RunStatus.SUCCEEDED, [], {}, "", finished_event(run.id, 2))

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
