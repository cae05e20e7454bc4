"""Resume lineages: resolved runs, the latest failed run, and loading a lineage in bounded queries."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from store_helpers import NODE_IDS, RUNNER, finished_event, make_workflow, node_event, start_run

from history_service.store import HistoryStore, migrate
from history_service.store.database import create_engine
from resumeflow_core.errors import ConflictError, FailedPreconditionError, RunNotFoundError
from resumeflow_core.records import NodeError, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import NodeStatus, ResumeMode, RunStatus

DONE = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


async def _finish(store: HistoryStore, run: Run, status: RunStatus) -> Run:
    failed = [] if status == RunStatus.SUCCEEDED else ["check"]
    return await store.finish_run(
        run.id,
        RUNNER,
        RunEnd(
            status,
            finished_event(run.id, run.last_sequence + 1),
            failed,
            {},
            "" if status == RunStatus.SUCCEEDED else "check failed",
        ),
    )


async def _failed(store: HistoryStore, resume_from: str = "", workflow_id: str = "orders") -> Run:
    run = await start_run(store, resume_from=resume_from, workflow_id=workflow_id)
    return await _finish(store, run, RunStatus.FAILED)


async def _chain(store: HistoryStore, length: int) -> list[Run]:
    """`length` failed runs, each a resume of the one before: the root first."""
    runs = [await _failed(store)]
    for _ in range(length - 1):
        runs.append(await _failed(store, resume_from=runs[-1].id))
    return runs


async def _latest_failed_id(store: HistoryStore, workflow_id: str = "orders") -> str | None:
    latest = await store.get_latest_failed(workflow_id)
    return None if latest is None else latest.id


def _result(node_id: str, status: NodeStatus, **fields: Any) -> NodeResult:
    return NodeResult(node_id, status, attempts=1, start_time=DONE, end_time=DONE, **fields)


# --- definition hashes -----------------------------------------------------------------


async def test_definition_hashes_of_presets_and_updates_round_trip(
    store: HistoryStore,
) -> None:
    restored = _result(
        "start", NodeStatus.RESTORED, source_run_id="earlier", finish_sequence=3, definition_hash="h-start"
    )
    run = await start_run(store, presets=[restored])
    fetched = _result("fetch", NodeStatus.SUCCEEDED, output={"status": 200}, definition_hash="h-fetch-2")

    await store.append_events(
        run.id, RUNNER, [node_event(run.id, 2, "fetch", NodeStatus.SUCCEEDED)], [fetched]
    )

    stored = {r.node_id: r for r in (await store.get_run(run.id)).node_results}
    assert stored["start"] == restored
    assert stored["fetch"] == fetched
    assert stored["check"].definition_hash == ""
    _, results = await store.get_lineage(run.id)
    assert [r.definition_hash for r in results] == ["h-start", "h-fetch-2", "", ""]


# --- resolved runs and the latest failed run -------------------------------------------


async def test_a_successful_resume_chain_resolves_every_earlier_run(
    store: HistoryStore,
) -> None:
    root = await _failed(store)
    assert await _latest_failed_id(store) == root.id

    first = await _failed(store, resume_from=root.id)
    assert await _latest_failed_id(store) == first.id

    second = await start_run(store, resume_from=first.id)
    await _finish(store, second, RunStatus.SUCCEEDED)

    assert await _latest_failed_id(store) is None


async def test_a_failed_branch_off_the_root_stays_unresolved(store: HistoryStore) -> None:
    root = await _failed(store)
    first = await _failed(store, resume_from=root.id)
    branch = await _failed(store, resume_from=root.id)
    fix = await start_run(store, resume_from=first.id)
    await _finish(store, fix, RunStatus.SUCCEEDED)

    assert await _latest_failed_id(store) == branch.id

    branch_fix = await start_run(store, resume_from=branch.id)
    await _finish(store, branch_fix, RunStatus.SUCCEEDED)

    assert await _latest_failed_id(store) is None


async def test_a_failed_resume_resolves_nothing(store: HistoryStore) -> None:
    root = await _failed(store)
    resume = await _failed(store, resume_from=root.id)
    await _finish(store, await start_run(store), RunStatus.SUCCEEDED)  # an unrelated full run

    assert await _latest_failed_id(store) == resume.id


async def test_latest_failed_is_the_newest_unresolved_failed_run(store: HistoryStore) -> None:
    await _failed(store)
    newest = await _failed(store)
    await _finish(store, await start_run(store), RunStatus.SUCCEEDED)
    await _finish(store, await start_run(store), RunStatus.CANCELLED)
    await start_run(store)  # still running

    latest = await store.get_latest_failed("orders")

    assert latest is not None
    assert latest == dataclasses.replace(newest, node_results=[])


async def test_cancelled_and_running_runs_are_never_the_latest_failed(
    store: HistoryStore,
) -> None:
    await _finish(store, await start_run(store), RunStatus.CANCELLED)
    await _finish(store, await start_run(store), RunStatus.SUCCEEDED)
    await start_run(store)

    assert await _latest_failed_id(store) is None


async def test_latest_failed_is_per_workflow(store: HistoryStore) -> None:
    await store.put_workflow(make_workflow("other"))
    mine = await _failed(store)
    await _failed(store, workflow_id="other")

    assert await _latest_failed_id(store) == mine.id
    assert await store.get_latest_failed("nothing-here") is None


async def test_a_run_failed_by_lease_expiry_is_the_latest_failed(store: HistoryStore) -> None:
    run = await start_run(store, lease_seconds=0.0)

    assert await store.expire_leases() == [run.id]

    latest = await store.get_latest_failed("orders")
    assert latest is not None
    assert latest.id == run.id


# --- creating a resume -----------------------------------------------------------------


async def test_a_resume_stores_its_metadata_and_presets_as_given(store: HistoryStore) -> None:
    root = await _failed(store)
    presets = [
        _result(
            "start",
            NodeStatus.RESTORED,
            output={"started": True},
            variables={"token": "abc"},
            source_run_id=root.id,
            finish_sequence=3,
            definition_hash="h-start",
        ),
        _result(
            "fetch",
            NodeStatus.FAILED,
            error=NodeError("HTTP_STATUS", "expected 200, got 503"),
            source_run_id=root.id,
            finish_sequence=5,
            definition_hash="h-fetch",
        ),
        NodeResult("end", NodeStatus.SKIPPED, source_run_id=root.id, definition_hash="h-end"),
    ]
    run, existing = await store.create_run(
        RunStart(
            Run(
                id="",
                workflow_id="orders",
                workflow_version=1,
                resume_from_run_id=root.id,
                resume_from_node_ids=["check"],
                resume_mode=ResumeMode.SINGLE,
                root_run_id=root.id,
                lineage_depth=1,
            ),
            node_ids=NODE_IDS,
            preset_results=presets,
            runner_id=RUNNER,
        )
    )

    assert not existing
    stored = await store.get_run(run.id)
    assert stored == run
    assert (stored.resume_from_run_id, stored.resume_from_node_ids, stored.resume_mode) == (
        root.id,
        ["check"],
        ResumeMode.SINGLE,
    )
    assert (stored.root_run_id, stored.lineage_depth) == (root.id, 1)
    by_node = {r.node_id: r for r in stored.node_results}
    assert [by_node["start"], by_node["fetch"], by_node["end"]] == presets
    assert by_node["check"] == NodeResult("check")


async def test_a_resume_derives_root_and_depth_from_the_stored_source(
    store: HistoryStore,
) -> None:
    root, first = await _chain(store, 2)
    run, _ = await store.create_run(
        RunStart(
            Run(
                id="",
                workflow_id="orders",
                workflow_version=1,
                resume_from_run_id=first.id,
                root_run_id="made-up",
                lineage_depth=7,
            ),
            node_ids=NODE_IDS,
            runner_id=RUNNER,
        )
    )

    assert (run.root_run_id, run.lineage_depth) == (root.id, 2)
    assert (await store.get_run(run.id)).root_run_id == root.id


async def test_a_retried_resume_request_returns_its_run_not_a_conflict(
    store: HistoryStore,
) -> None:
    source = await _failed(store)
    active = await start_run(store, resume_from=source.id, request_id="req-resume")

    again, existing = await store.create_run(
        RunStart(
            Run(
                id="",
                workflow_id="orders",
                workflow_version=1,
                request_id="req-resume",
                resume_from_run_id=source.id,
            ),
            node_ids=NODE_IDS,
            runner_id=RUNNER,
        )
    )

    assert existing
    assert again == active
    with pytest.raises(ConflictError) as caught:
        await start_run(store, resume_from=source.id, request_id="req-other")
    assert caught.value.reason == "RESUME_IN_PROGRESS"
    assert caught.value.metadata == {"active_run_id": active.id, "source_run_id": source.id}


# --- loading a lineage -----------------------------------------------------------------


async def test_lineage_of_a_first_run_is_the_run_alone(store: HistoryStore) -> None:
    run = await start_run(store)

    runs, results = await store.get_lineage(run.id)

    assert [r.id for r in runs] == [run.id]
    assert runs[0].node_results == []
    assert results == (await store.get_run(run.id)).node_results
    assert [r.node_id for r in results] == list(NODE_IDS)


async def test_lineage_of_a_resume_has_its_source_and_provenance(store: HistoryStore) -> None:
    root = await start_run(store)
    produced = [
        _result("start", NodeStatus.SUCCEEDED, finish_sequence=2, definition_hash="h-start"),
        _result("fetch", NodeStatus.SUCCEEDED, output={"status": 200}, finish_sequence=3),
        _result("check", NodeStatus.FAILED, error=NodeError("ASSERTION", "no"), finish_sequence=4),
    ]
    events = [node_event(root.id, 2 + i, r.node_id, r.status) for i, r in enumerate(produced)]
    await store.append_events(root.id, RUNNER, events, produced)
    root = await store.finish_run(
        root.id, RUNNER, RunEnd(RunStatus.FAILED, finished_event(root.id, 5), ["check"], {}, "check failed")
    )
    restored = [
        dataclasses.replace(r, status=NodeStatus.RESTORED, source_run_id=root.id) for r in produced[:2]
    ]
    resume = await start_run(store, resume_from=root.id, presets=restored)
    rerun = _result("check", NodeStatus.SUCCEEDED, finish_sequence=2, definition_hash="h-check-2")
    await store.append_events(
        resume.id, RUNNER, [node_event(resume.id, 2, "check", NodeStatus.SUCCEEDED)], [rerun]
    )

    runs, results = await store.get_lineage(resume.id)

    assert [r.id for r in runs] == [resume.id, root.id]
    assert [r.lineage_depth for r in runs] == [1, 0]
    assert all(r.node_results == [] for r in runs)
    assert runs[1] == await store.get_run(root.id, with_results=False)
    assert [r.node_id for r in results] == list(NODE_IDS)
    assert [r.source_run_id for r in results] == [root.id, root.id, "", ""]
    assert results[:3] == [*restored, rerun]


async def test_lineage_of_a_long_chain_is_nearest_first_ending_with_the_root(
    store: HistoryStore,
) -> None:
    chain = await _chain(store, 5)

    runs, results = await store.get_lineage(chain[-1].id)

    assert [r.id for r in runs] == [r.id for r in reversed(chain)]
    assert [r.lineage_depth for r in runs] == [4, 3, 2, 1, 0]
    assert {r.root_run_id for r in runs} == {chain[0].id}
    assert [r.node_id for r in results] == list(NODE_IDS)


async def test_lineage_of_an_unknown_run_raises_not_found(store: HistoryStore) -> None:
    with pytest.raises(RunNotFoundError):
        await store.get_lineage("missing")


# --- bounded queries -------------------------------------------------------------------


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[tuple[HistoryStore, list[str]]]:
    """A store whose engine records every statement sent while `recording` is not empty."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    store = HistoryStore(engine)
    try:
        await store.put_workflow(make_workflow())
        yield store, statements
    finally:
        await store.close()


async def _statements_of_get_lineage(
    store: HistoryStore, statements: list[str], run_id: str
) -> Sequence[str]:
    await store.get_lineage(run_id)  # warm up: connection set-up is not the point
    statements.clear()
    runs, _ = await store.get_lineage(run_id)
    assert runs[0].id == run_id
    return list(statements)


async def test_get_lineage_issues_as_many_statements_at_depth_30_as_at_depth_1(
    counted: tuple[HistoryStore, list[str]],
) -> None:
    store, statements = counted
    short = await _chain(store, 2)
    long = await _chain(store, 31)
    assert long[-1].lineage_depth == 30

    at_depth_1 = await _statements_of_get_lineage(store, statements, short[-1].id)
    at_depth_30 = await _statements_of_get_lineage(store, statements, long[-1].id)

    assert len(at_depth_30) == len(at_depth_1)
    assert sum("SELECT" in s.upper() for s in at_depth_30) <= 3
    runs, _ = await store.get_lineage(long[-1].id)
    assert [r.id for r in runs] == [r.id for r in reversed(long)]


async def test_an_ancestor_that_no_longer_exists_is_left_out(database_url: str) -> None:
    async with await HistoryStore.open(database_url) as store:
        await store.put_workflow(make_workflow())
        root, gone, last = await _chain(store, 3)
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM runs WHERE id = :id"), {"id": gone.id})
        finally:
            await engine.dispose()

        runs, _ = await store.get_lineage(last.id)

    assert [r.id for r in runs] == [last.id, root.id]


# --- copying results into a resume ---------------------------------------------------------


async def test_a_resume_copies_results_in_the_database_restoring_successes_and_keeping_failures(
    store: HistoryStore,
) -> None:
    source = await start_run(store)
    results = [
        _result(NODE_IDS[0], NodeStatus.SUCCEEDED, output={"ok": 1}, variables={"a": 1}, finish_sequence=2),
        _result(NODE_IDS[1], NodeStatus.FAILED, error=NodeError("HTTP_STATUS", "503"), finish_sequence=3),
    ]
    events = [
        node_event(source.id, 2, NODE_IDS[0], NodeStatus.SUCCEEDED),
        node_event(source.id, 3, NODE_IDS[1], NodeStatus.FAILED),
    ]
    await store.append_events(source.id, RUNNER, events, results)
    await _finish(store, dataclasses.replace(source, last_sequence=3), RunStatus.FAILED)

    resumed, _ = await store.create_run(
        RunStart(
            Run(id="", workflow_id="orders", workflow_version=1, resume_from_run_id=source.id),
            node_ids=NODE_IDS,
            runner_id=RUNNER,
            copied_node_ids=NODE_IDS[:2],
        )
    )

    stored = {r.node_id: r for r in (await store.get_run(resumed.id)).node_results}
    restored, carried = stored[NODE_IDS[0]], stored[NODE_IDS[1]]
    assert (restored.status, restored.source_run_id, restored.output, restored.variables) == (
        NodeStatus.RESTORED,
        source.id,
        {"ok": 1},
        {"a": 1},
    )
    assert restored.finish_sequence == 2
    assert (carried.status, carried.source_run_id, carried.error) == (
        NodeStatus.FAILED,
        source.id,
        NodeError("HTTP_STATUS", "503"),
    )
    assert all(stored[n].status == NodeStatus.PENDING for n in NODE_IDS[2:])


async def test_copying_a_result_that_is_gone_stores_nothing(store: HistoryStore) -> None:
    source = await _failed(store)
    async with store._engine.begin() as connection:
        await connection.execute(text("DELETE FROM node_results WHERE run_id = :r"), {"r": source.id})

    with pytest.raises(FailedPreconditionError) as caught:
        await store.create_run(
            RunStart(
                Run(id="", workflow_id="orders", workflow_version=1, resume_from_run_id=source.id),
                node_ids=NODE_IDS,
                runner_id=RUNNER,
                copied_node_ids=NODE_IDS[:1],
            )
        )

    assert caught.value.reason == "MISSING_PRIOR_RESULT"
    runs, _ = await store.list_runs("orders")
    assert [run.id for run in runs] == [source.id]
