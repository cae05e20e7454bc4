"""Creating runs: node results, lineage, idempotency and the one-active-resume rule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from store_helpers import NODE_IDS, RUNNER, finished_event, start_run

from history_service.store import HistoryStore
from resumeflow_core.errors import (
    ConflictError,
    InvalidArgumentError,
    RunNotFoundError,
    WorkflowNotFoundError,
)
from resumeflow_core.records import NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import EventKind, NodeStatus, RunStatus


async def _fail(store: HistoryStore, run: Run) -> Run:
    return await store.finish_run(
        run.id, RUNNER, RunEnd(RunStatus.FAILED, finished_event(run.id, 2), ["fetch"], {}, "fetch failed")
    )


async def test_create_run_starts_it_running_with_pending_nodes(
    store: HistoryStore,
) -> None:
    run = await start_run(store)

    assert len(run.id) == 32
    assert run.status == RunStatus.RUNNING
    assert run.root_run_id == run.id
    assert run.lineage_depth == 0
    assert run.last_sequence == 1
    assert [r.node_id for r in run.node_results] == list(NODE_IDS)
    assert {r.status for r in run.node_results} == {NodeStatus.PENDING}
    assert await store.get_run(run.id) == run


async def test_create_run_logs_run_started_as_sequence_one(store: HistoryStore) -> None:
    run = await start_run(store)

    (event,) = await store.list_events(run.id)
    assert (event.sequence, event.kind, event.run_status) == (
        1,
        EventKind.RUN_STARTED,
        RunStatus.RUNNING,
    )


async def test_create_run_keeps_a_caller_given_id(store: HistoryStore) -> None:
    run, _ = await store.create_run(
        RunStart(
            Run(id="my-run", workflow_id="orders", workflow_version=1), node_ids=NODE_IDS, runner_id=RUNNER
        )
    )
    assert run.id == "my-run"
    assert (await store.get_run("my-run")).id == "my-run"


async def test_preset_results_are_stored_as_given(store: HistoryStore) -> None:
    done = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    restored = NodeResult(
        "fetch",
        NodeStatus.RESTORED,
        attempts=2,
        start_time=done,
        end_time=done,
        output={"status": 200, "body": [1, 2]},
        variables={"token": "abc"},
        source_run_id="earlier",
        finish_sequence=5,
    )
    run = await start_run(store, presets=[restored])

    stored = (await store.get_run(run.id)).node_results
    assert stored[1] == restored
    assert [r.status for r in stored] == [
        NodeStatus.PENDING,
        NodeStatus.RESTORED,
        NodeStatus.PENDING,
        NodeStatus.PENDING,
    ]


async def test_preset_results_of_unknown_nodes_are_invalid(store: HistoryStore) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await start_run(store, presets=[NodeResult("nope")])
    assert [v.field for v in caught.value.violations] == ["preset_results"]


async def test_create_run_of_an_unknown_workflow_version_raises_not_found(
    store: HistoryStore,
) -> None:
    with pytest.raises(WorkflowNotFoundError):
        await store.create_run(
            RunStart(
                Run(id="", workflow_id="orders", workflow_version=9), node_ids=NODE_IDS, runner_id=RUNNER
            )
        )


async def test_same_request_id_returns_the_existing_run(store: HistoryStore) -> None:
    first = await start_run(store, request_id="req-1")
    again, existing = await store.create_run(
        RunStart(
            Run(id="", workflow_id="orders", workflow_version=1, request_id="req-1"),
            node_ids=NODE_IDS,
            runner_id="another-runner",
        )
    )
    assert existing
    assert again == first
    assert len((await store.list_runs("orders"))[0]) == 1


async def test_concurrent_creates_with_one_request_id_make_one_run(
    store: HistoryStore,
) -> None:
    async def create() -> tuple[Run, bool]:
        return await store.create_run(
            RunStart(
                Run(id="", workflow_id="orders", workflow_version=1, request_id="req-race"),
                node_ids=NODE_IDS,
                runner_id=RUNNER,
            )
        )

    results = await asyncio.gather(*(create() for _ in range(5)))

    assert len({run.id for run, _ in results}) == 1
    assert sorted(existing for _, existing in results) == [
        False,
        True,
        True,
        True,
        True,
    ]
    assert len((await store.list_runs("orders"))[0]) == 1


async def test_a_resume_records_its_lineage(store: HistoryStore) -> None:
    root = await _fail(store, await start_run(store))
    first = await _fail(store, await start_run(store, resume_from=root.id))
    second = await start_run(store, resume_from=first.id)

    assert (first.root_run_id, first.lineage_depth) == (root.id, 1)
    assert (second.root_run_id, second.lineage_depth) == (root.id, 2)
    assert second.resume_from_run_id == first.id


async def test_resume_of_an_unknown_run_raises_not_found(store: HistoryStore) -> None:
    with pytest.raises(RunNotFoundError):
        await start_run(store, resume_from="missing")


async def test_second_active_resume_of_a_run_is_rejected(store: HistoryStore) -> None:
    source = await _fail(store, await start_run(store))
    active = await start_run(store, resume_from=source.id)

    with pytest.raises(ConflictError) as caught:
        await start_run(store, resume_from=source.id)

    assert caught.value.reason == "RESUME_IN_PROGRESS"
    assert caught.value.metadata == {
        "active_run_id": active.id,
        "source_run_id": source.id,
    }


async def test_concurrent_resumes_of_a_run_admit_exactly_one(
    store: HistoryStore,
) -> None:
    source = await _fail(store, await start_run(store))

    outcomes = await asyncio.gather(
        *(start_run(store, resume_from=source.id) for _ in range(4)),
        return_exceptions=True,
    )

    started = [o for o in outcomes if isinstance(o, Run)]
    rejected = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(started) == 1
    assert len(rejected) == 3
    assert {e.metadata["active_run_id"] for e in rejected} == {started[0].id}


async def test_a_new_resume_is_accepted_once_the_active_one_finished(
    store: HistoryStore,
) -> None:
    source = await _fail(store, await start_run(store))
    await _fail(store, await start_run(store, resume_from=source.id))

    again = await start_run(store, resume_from=source.id)

    assert again.status == RunStatus.RUNNING
