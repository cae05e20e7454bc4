"""Run leases: heartbeats, cancellation requests and failing runs of lost runners."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from store_helpers import RUNNER, finished_event, make_workflow, node_event, start_run

from history_service.store import HistoryStore
from history_service.store import transactions as tx
from resumeflow_core.errors import (
    ConflictError,
    FailedPreconditionError,
    RunNotFoundError,
)
from resumeflow_core.records import NodeResult, RunEnd
from resumeflow_core.status import EventKind, NodeStatus, RunStatus

LATER = timedelta(minutes=5)


async def test_heartbeat_extends_the_lease(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=10)

    expires, cancel = await store.heartbeat(run.id, RUNNER, lease_seconds=600)

    assert not cancel
    assert expires > datetime.now(UTC) + timedelta(seconds=590)
    assert await store.expire_leases(datetime.now(UTC) + LATER) == []


async def test_heartbeat_of_another_runner_is_rejected(store: HistoryStore) -> None:
    run = await start_run(store)

    with pytest.raises(ConflictError) as caught:
        await store.heartbeat(run.id, "impostor", 30)

    assert caught.value.reason == "LEASE_LOST"


async def test_heartbeat_reports_a_cancellation_request(store: HistoryStore) -> None:
    run = await start_run(store)

    assert await store.request_cancel(run.id) == RunStatus.RUNNING
    _, cancel = await store.heartbeat(run.id, RUNNER, 30)
    _, cancel_on_append = await store.append_events(
        run.id, RUNNER, [node_event(run.id, 2, "start", NodeStatus.CANCELLED)]
    )

    assert cancel and cancel_on_append


async def test_cancel_of_a_finished_run_returns_its_status(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.finish_run(run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 2), [], {}, ""))

    assert await store.request_cancel(run.id) == RunStatus.SUCCEEDED


async def test_cancel_of_an_unknown_run_raises_not_found(store: HistoryStore) -> None:
    with pytest.raises(RunNotFoundError):
        await store.request_cancel("missing")


async def test_a_live_lease_is_not_expired(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=60)

    assert await store.expire_leases() == []
    assert (await store.get_run(run.id)).status == RunStatus.RUNNING


async def test_an_expired_lease_fails_the_run_as_runner_lost(
    store: HistoryStore,
) -> None:
    run = await start_run(store, lease_seconds=1)
    now = datetime.now(UTC)
    await store.append_events(
        run.id,
        RUNNER,
        [
            node_event(run.id, 2, "start", NodeStatus.SUCCEEDED),
            node_event(run.id, 3, "fetch", NodeStatus.RUNNING),
        ],
        [
            NodeResult("start", NodeStatus.SUCCEEDED, 1, now, now),
            NodeResult("fetch", NodeStatus.RUNNING, 1, now),
        ],
    )

    assert await store.expire_leases(now + LATER) == [run.id]

    lost = await store.get_run(run.id)
    assert lost.status == RunStatus.FAILED
    assert lost.error_summary.startswith("RUNNER_LOST: ")
    assert lost.failed_node_ids == ["fetch", "check", "end"]
    assert [r.status for r in lost.node_results] == [NodeStatus.SUCCEEDED] + [NodeStatus.FAILED] * 3
    assert {r.error.code for r in lost.node_results[1:] if r.error} == {"RUNNER_LOST"}


async def test_an_expired_run_ends_its_log_with_run_finished(
    store: HistoryStore,
) -> None:
    run = await start_run(store, lease_seconds=1)
    await store.append_events(run.id, RUNNER, [node_event(run.id, 2, "start", NodeStatus.RUNNING)])

    await store.expire_leases(datetime.now(UTC) + LATER)

    events = await store.list_events(run.id)
    assert [e.sequence for e in events] == [1, 2, 3]
    assert (events[-1].kind, events[-1].run_status) == (
        EventKind.RUN_FINISHED,
        RunStatus.FAILED,
    )
    assert await store.get_run_progress(run.id) == (RunStatus.FAILED, 3)


async def test_the_lost_runner_can_no_longer_write(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=1)
    await store.expire_leases(datetime.now(UTC) + LATER)

    with pytest.raises(FailedPreconditionError):
        await store.heartbeat(run.id, RUNNER, 30)
    with pytest.raises(FailedPreconditionError):
        await store.append_events(run.id, RUNNER, [node_event(run.id, 3, "start", NodeStatus.RUNNING)])


async def test_an_expired_resume_frees_its_source_for_another_resume(
    store: HistoryStore,
) -> None:
    source = await start_run(store)
    await store.finish_run(
        source.id, RUNNER, RunEnd(RunStatus.FAILED, finished_event(source.id, 2), ["fetch"], {}, "failed")
    )
    lost = await start_run(store, resume_from=source.id, lease_seconds=1)

    assert await store.expire_leases(datetime.now(UTC) + LATER) == [lost.id]

    again = await start_run(store, resume_from=source.id)
    assert again.lineage_depth == 1


async def test_expire_leases_fails_each_run_once(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=1)
    later = datetime.now(UTC) + LATER

    assert await store.expire_leases(later) == [run.id]
    assert await store.expire_leases(later) == []
    assert [e.sequence for e in await store.list_events(run.id)] == [1, 2]


def _skewed_clock(monkeypatch: pytest.MonkeyPatch, skew: timedelta) -> None:
    """This process's clock runs `skew` off; the database's does not."""
    monkeypatch.setattr(tx, "now", lambda: datetime.now(UTC) + skew)


async def test_a_replica_whose_clock_runs_ahead_does_not_expire_a_live_lease(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await start_run(store, lease_seconds=60)
    _skewed_clock(monkeypatch, timedelta(hours=1))

    assert await store.expire_leases() == []
    assert (await store.get_run(run.id)).status == RunStatus.RUNNING


async def test_a_heartbeat_renews_by_the_database_clock(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = await start_run(store)
    _skewed_clock(monkeypatch, timedelta(hours=-1))

    expires, _ = await store.heartbeat(run.id, RUNNER, lease_seconds=60)

    assert timedelta(seconds=55) < expires - datetime.now(UTC) < timedelta(seconds=65)
    assert await store.expire_leases(datetime.now(UTC) + timedelta(seconds=30)) == []


async def test_an_expired_lease_is_found_only_once_watched_for_its_length(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=0.5)
    await asyncio.sleep(0.6)

    _, too_soon = await store.find_expired_leases(watched_seconds=0.4)
    _, watched = await store.find_expired_leases(watched_seconds=0.5)

    assert too_soon == []
    assert watched == [(run.id, RUNNER)]


async def test_a_heartbeat_stores_its_lease_length(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=0.5)
    await store.heartbeat(run.id, RUNNER, lease_seconds=120)

    _, found = await store.find_expired_leases(watched_seconds=0.5, now=datetime.now(UTC) + LATER)

    assert found == []


async def test_sqlite_stores_a_lease_expiry_in_the_text_every_other_time_has(
    sqlite_database_url: str,
) -> None:
    """Expiry compares the column's text: the database's clock must write UTCDateTime's format."""
    async with await HistoryStore.open(sqlite_database_url) as store:
        await store.put_workflow(make_workflow())
        run = await start_run(store)
        await store.heartbeat(run.id, RUNNER, 30)
        async with store._reading() as session:
            texts = (await session.execute(text("SELECT create_time, lease_expire_time FROM runs"))).one()

    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", value) for value in texts)
