"""Appending events and finishing runs: gapless sequences, guards, atomic batches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from store_helpers import RUNNER, finished_event, node_event, start_run

from history_service.store import HistoryStore
from resumeflow_core.errors import (
    ConflictError,
    FailedPreconditionError,
    InvalidArgumentError,
    RunNotFoundError,
)
from resumeflow_core.records import NodeError, NodeResult, RunEnd
from resumeflow_core.status import EventKind, NodeStatus, RunStatus


async def test_appended_events_continue_the_sequence(store: HistoryStore) -> None:
    run = await start_run(store)

    last, cancel = await store.append_events(
        run.id,
        RUNNER,
        [
            node_event(run.id, 2, "start", NodeStatus.RUNNING),
            node_event(run.id, 3, "start", NodeStatus.SUCCEEDED),
        ],
    )
    last, cancel = await store.append_events(
        run.id, RUNNER, [node_event(run.id, 4, "fetch", NodeStatus.RUNNING)]
    )

    assert (last, cancel) == (4, False)
    assert [e.sequence for e in await store.list_events(run.id)] == [1, 2, 3, 4]
    assert await store.get_run_progress(run.id) == (RunStatus.RUNNING, 4)


async def test_appended_node_results_replace_the_stored_ones(
    store: HistoryStore,
) -> None:
    run = await start_run(store)
    now = datetime.now(UTC)
    failed = NodeResult(
        "fetch",
        NodeStatus.FAILED,
        attempts=3,
        start_time=now,
        end_time=now,
        error=NodeError("HTTP_STATUS", "expected 200, got 503"),
        finish_sequence=2,
    )
    succeeded = NodeResult("start", NodeStatus.SUCCEEDED, 1, now, now, {"ok": True}, {"x": 1})

    await store.append_events(
        run.id,
        RUNNER,
        [node_event(run.id, 2, "fetch", NodeStatus.FAILED)],
        [failed, succeeded],
    )

    results = {r.node_id: r for r in (await store.get_run(run.id)).node_results}
    assert results["fetch"] == failed
    assert results["start"] == succeeded
    assert results["check"].status == NodeStatus.PENDING


async def test_a_batch_that_skips_a_sequence_is_rejected_and_nothing_stored(
    store: HistoryStore,
) -> None:
    run = await start_run(store)

    with pytest.raises(ConflictError) as caught:
        await store.append_events(
            run.id,
            RUNNER,
            [node_event(run.id, 3, "start", NodeStatus.RUNNING)],
            [NodeResult("start", NodeStatus.RUNNING)],
        )

    assert caught.value.reason == "SEQUENCE_GAP"
    assert (caught.value.metadata["expected"], caught.value.metadata["got"]) == (
        "2",
        "3",
    )
    assert [e.sequence for e in await store.list_events(run.id)] == [1]
    assert (await store.get_run(run.id)).node_results[0].status == NodeStatus.PENDING
    assert await store.get_run_progress(run.id) == (RunStatus.RUNNING, 1)


async def test_a_batch_with_a_gap_inside_is_rejected(store: HistoryStore) -> None:
    run = await start_run(store)

    with pytest.raises(ConflictError) as caught:
        await store.append_events(
            run.id,
            RUNNER,
            [
                node_event(run.id, 2, "start", NodeStatus.RUNNING),
                node_event(run.id, 4, "start", NodeStatus.SUCCEEDED),
            ],
        )

    assert caught.value.reason == "SEQUENCE_GAP"
    assert [e.sequence for e in await store.list_events(run.id)] == [1]


async def test_a_replayed_batch_is_rejected_as_a_gap(store: HistoryStore) -> None:
    run = await start_run(store)
    batch = [node_event(run.id, 2, "start", NodeStatus.RUNNING)]
    await store.append_events(run.id, RUNNER, batch)

    with pytest.raises(ConflictError) as caught:
        await store.append_events(run.id, RUNNER, batch)

    assert caught.value.metadata["expected"] == "3"


async def test_two_writers_racing_for_one_sequence_store_one_batch(
    store: HistoryStore,
) -> None:
    run = await start_run(store)

    outcomes = await asyncio.gather(
        *(
            store.append_events(run.id, RUNNER, [node_event(run.id, 2, node, NodeStatus.RUNNING)])
            for node in ("start", "fetch")
        ),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "tuple"]
    events = await store.list_events(run.id)
    assert [e.sequence for e in events] == [1, 2]


async def test_a_result_of_an_unknown_node_is_rejected_and_nothing_stored(
    store: HistoryStore,
) -> None:
    run = await start_run(store)

    with pytest.raises(InvalidArgumentError):
        await store.append_events(
            run.id,
            RUNNER,
            [node_event(run.id, 2, "start", NodeStatus.RUNNING)],
            [
                NodeResult("start", NodeStatus.RUNNING),
                NodeResult("ghost", NodeStatus.FAILED),
            ],
        )

    assert await store.get_run_progress(run.id) == (RunStatus.RUNNING, 1)


async def test_another_runner_cannot_append(store: HistoryStore) -> None:
    run = await start_run(store)

    with pytest.raises(ConflictError) as caught:
        await store.append_events(run.id, "impostor", [node_event(run.id, 2, "start", NodeStatus.RUNNING)])

    assert caught.value.reason == "LEASE_LOST"


async def test_appending_to_an_unknown_run_raises_not_found(
    store: HistoryStore,
) -> None:
    with pytest.raises(RunNotFoundError):
        await store.append_events("missing", RUNNER, [node_event("missing", 2, "start", NodeStatus.RUNNING)])


async def test_finish_records_the_outcome_and_the_last_event(
    store: HistoryStore,
) -> None:
    run = await start_run(store)
    await store.append_events(run.id, RUNNER, [node_event(run.id, 2, "fetch", NodeStatus.FAILED)])

    finished = await store.finish_run(
        run.id,
        RUNNER,
        RunEnd(RunStatus.FAILED, finished_event(run.id, 3), ["fetch"], {"order": 7}, "1 node failed: fetch"),
    )

    assert finished.status == RunStatus.FAILED
    assert finished.failed_node_ids == ["fetch"]
    assert finished.variables == {"order": 7}
    assert finished.error_summary == "1 node failed: fetch"
    assert finished.end_time is not None and finished.start_time is not None
    assert finished.end_time >= finished.start_time
    assert finished.last_sequence == 3
    assert finished.node_results == [], "the end of a run is returned without its node results"
    last = (await store.list_events(run.id, after_sequence=2))[0]
    assert (last.sequence, last.kind, last.run_status) == (
        3,
        EventKind.RUN_FINISHED,
        RunStatus.FAILED,
    )


async def test_finish_with_a_gap_is_rejected_and_the_run_keeps_running(
    store: HistoryStore,
) -> None:
    run = await start_run(store)

    with pytest.raises(ConflictError):
        await store.finish_run(
            run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 5), [], {}, "")
        )

    assert await store.get_run_progress(run.id) == (RunStatus.RUNNING, 1)


async def test_finish_with_a_non_final_status_is_invalid(store: HistoryStore) -> None:
    run = await start_run(store)

    with pytest.raises(InvalidArgumentError) as caught:
        await store.finish_run(
            run.id,
            RUNNER,
            RunEnd(RunStatus.RUNNING, node_event(run.id, 2, "a", NodeStatus.RUNNING), [], {}, ""),
        )

    assert {v.field for v in caught.value.violations} == {"status", "event.kind"}


async def test_appending_after_finish_is_rejected(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.finish_run(run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 2), [], {}, ""))

    with pytest.raises(FailedPreconditionError) as caught:
        await store.append_events(run.id, RUNNER, [node_event(run.id, 3, "start", NodeStatus.RUNNING)])

    assert caught.value.reason == "RUN_FINISHED"
    assert [e.sequence for e in await store.list_events(run.id)] == [1, 2]


async def test_finishing_twice_is_rejected(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.finish_run(run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 2), [], {}, ""))

    with pytest.raises(FailedPreconditionError):
        await store.finish_run(
            run.id, RUNNER, RunEnd(RunStatus.FAILED, finished_event(run.id, 3), [], {}, "")
        )


async def test_list_events_pages_after_a_sequence(store: HistoryStore) -> None:
    run = await start_run(store)
    await store.append_events(
        run.id,
        RUNNER,
        [node_event(run.id, seq, "start", NodeStatus.RUNNING) for seq in range(2, 12)],
    )

    page = await store.list_events(run.id, after_sequence=4, limit=3)

    assert [e.sequence for e in page] == [5, 6, 7]
    assert await store.list_events(run.id, after_sequence=11) == []


async def test_list_events_of_an_unknown_run_raises_not_found(
    store: HistoryStore,
) -> None:
    with pytest.raises(RunNotFoundError):
        await store.list_events("missing")


async def test_finish_stores_trailing_events_and_results_in_the_same_transaction(store: HistoryStore) -> None:
    run = await start_run(store)
    trailing = [node_event(run.id, 2, "start", NodeStatus.SUCCEEDED)]
    result = NodeResult("start", NodeStatus.SUCCEEDED, attempts=1, finish_sequence=2)

    await store.finish_run(
        run.id,
        RUNNER,
        RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 3), [], {}, ""),
        events=trailing,
        node_results=[result],
    )

    assert [e.sequence for e in await store.list_events(run.id)] == [1, 2, 3]
    stored = await store.get_run(run.id)
    assert next(r for r in stored.node_results if r.node_id == "start").status == NodeStatus.SUCCEEDED


async def test_finish_with_a_gap_in_trailing_events_stores_nothing(store: HistoryStore) -> None:
    run = await start_run(store)
    with pytest.raises(ConflictError):
        await store.finish_run(
            run.id,
            RUNNER,
            RunEnd(RunStatus.SUCCEEDED, finished_event(run.id, 4), [], {}, ""),
            events=[node_event(run.id, 2, "start", NodeStatus.SUCCEEDED)],
        )
    stored = await store.get_run(run.id)
    assert (stored.status, stored.last_sequence) == (RunStatus.RUNNING, 1)
