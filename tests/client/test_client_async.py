"""The async client against real in-process services: apply, run, resume, plan, watch, list and show."""

from __future__ import annotations

import pytest
from client_helpers import addresses, chain_workflow, parallel_workflow
from integration_helpers import Services

from resumeflow_client import (
    Client,
    Event,
    EventKind,
    NodeFate,
    NodeStatus,
    ResumeMode,
    Run,
    RunAccepted,
    RunFinished,
    RunStatus,
    load_workflow,
)

FAIL_BOTH = {"fail": "left", "fail2": "right"}
FAIL_NONE = {"fail": "", "fail2": ""}


async def test_apply_stores_a_new_version_only_when_the_definition_changes(client: Client) -> None:
    first = await client.apply_workflow(parallel_workflow())
    same = await client.apply_workflow(parallel_workflow())
    changed_definition = parallel_workflow()
    changed_definition["nodes"][1]["config"] = {"values": {"l": "fixed"}}
    changed = await client.apply_workflow(changed_definition)

    assert (first.changed, first.workflow.version) == (True, 1)
    assert (same.changed, same.workflow.version) == (False, 1)
    assert (changed.changed, changed.workflow.version) == (True, 2)
    fetched = await client.get_workflow("parallel", version=1)
    assert fetched.node("left") is not None and fetched.node("left").label == "Left branch"  # type: ignore[union-attr]
    assert fetched.raw.id == "parallel"
    assert [w.id async for w in client.list_workflows()] == ["parallel"]


async def test_apply_accepts_a_loaded_file(client: Client, tmp_path: object) -> None:
    import json
    from pathlib import Path

    path = Path(str(tmp_path)) / "chain.json"
    path.write_text(json.dumps(chain_workflow("chain", 2)))

    applied = await client.apply_workflow(load_workflow(path))

    assert [n.id for n in applied.workflow.nodes] == ["start", "n0", "n1", "end"]


async def test_iterating_a_run_yields_accepted_then_node_events_then_finished(client: Client) -> None:
    await client.apply_workflow(chain_workflow("chain", 2))

    updates = [update async for update in client.run("chain")]

    assert isinstance(updates[0], RunAccepted) and isinstance(updates[-1], RunFinished)
    events = updates[1:-1]
    assert all(isinstance(e, Event) and e.kind == EventKind.NODE_STATUS for e in events)
    assert [(e.node_id, e.node_status) for e in events] == [  # type: ignore[union-attr]
        (node, status)
        for node in ("start", "n0", "n1", "end")
        for status in (NodeStatus.RUNNING, NodeStatus.SUCCEEDED)
    ]
    sequences = [e.sequence for e in events]  # type: ignore[union-attr]
    assert sequences == list(range(2, 2 + len(events)))
    assert updates[-1].sequence == sequences[-1] + 1  # type: ignore[union-attr]
    assert updates[-1].run.status == RunStatus.SUCCEEDED


async def test_awaiting_a_run_returns_the_final_run_with_inputs_env_and_redacted_secrets(
    client: Client,
) -> None:
    await client.apply_workflow(parallel_workflow())

    run = await client.run(
        "parallel", inputs={"trail": "", "count": 3}, env_name="test", env=FAIL_NONE, secrets={"x": "hush"}
    )

    assert isinstance(run, Run) and run.status == RunStatus.SUCCEEDED
    assert run.inputs == {"trail": "", "count": 3}
    assert (run.environment_name, run.environment) == ("test", FAIL_NONE)
    assert run.variables["l"] == "left" and run.duration is not None
    assert run.root_run_id == run.id and run.lineage_depth == 0 and not run.is_resume


async def test_a_failed_run_reports_its_failed_nodes_and_get_run_their_errors(
    client: Client, failed_parallel_run: str
) -> None:
    run = await client.get_run(failed_parallel_run)

    assert run.status == RunStatus.FAILED and run.failed_node_ids == ("left", "right")
    statuses = {r.node_id: r.status for r in run.node_results}
    assert statuses["join"] == statuses["end"] == NodeStatus.BLOCKED
    left = run.node_result("left")
    assert left is not None and left.error is not None and left.error.code == "TEMPLATE_ERROR"
    assert "no_such_name" in left.error.message and left.attempts == 1


async def test_latest_failed_lists_the_failed_nodes_in_order_with_labels(
    client: Client, failed_parallel_run: str
) -> None:
    latest = await client.latest_failed("parallel")

    assert latest.run.id == failed_parallel_run
    assert [(n.node_id, n.label, n.type) for n in latest.failed_nodes] == [
        ("left", "Left branch", "set"),
        ("right", "Right branch", "set"),
    ]
    assert all("no_such_name" in n.error_message for n in latest.failed_nodes)


async def test_plan_resume_names_each_fate_and_its_token_runs_that_plan(
    client: Client, failed_parallel_run: str
) -> None:
    plan = await client.plan_resume("parallel", node_id="left")

    fates = {n.node_id: (n.fate, n.source_run_id) for n in plan.nodes}
    assert fates == {
        "start": (NodeFate.RESTORED, failed_parallel_run),
        "left": (NodeFate.RERUN, ""),
        "right": (NodeFate.CARRIED_FAILURE, failed_parallel_run),
        "join": (NodeFate.BLOCKED, ""),
        "end": (NodeFate.BLOCKED, ""),
    }
    assert plan.accepted and plan.mode == ResumeMode.SINGLE and plan.start_node_ids == ("left",)
    assert plan.nodes_with(NodeFate.BLOCKED) == ("join", "end")
    run = await client.resume("parallel", node_id="left", plan_token=plan.plan_token, env={"fail": ""})
    assert run.resume_from_run_id == failed_parallel_run and run.status == RunStatus.FAILED
    assert run.failed_node_ids == ("right",)


async def test_resume_single_restores_upstream_and_carries_the_other_failure(
    client: Client, failed_parallel_run: str
) -> None:
    handle = client.resume("parallel", env={"fail": ""})
    updates = [u async for u in handle]

    accepted = updates[0]
    assert isinstance(accepted, RunAccepted)
    assert accepted.run.resume_from_run_id == failed_parallel_run
    assert accepted.run.resume_from_node_ids == ("left",) and accepted.run.resume_mode == ResumeMode.SINGLE
    assert accepted.restored_node_ids == ("start",)
    resumed = await client.get_run(handle.run_id)
    statuses = {r.node_id: r.status for r in resumed.node_results}
    assert statuses == {
        "start": NodeStatus.RESTORED,
        "left": NodeStatus.SUCCEEDED,
        "right": NodeStatus.FAILED,
        "join": NodeStatus.BLOCKED,
        "end": NodeStatus.BLOCKED,
    }
    assert resumed.node_result("right").source_run_id == failed_parallel_run  # type: ignore[union-attr]


async def test_resume_all_failed_reruns_both_branches_and_succeeds(
    client: Client, failed_parallel_run: str
) -> None:
    run = await client.resume("parallel", all_failed=True, env=FAIL_NONE)

    assert run.status == RunStatus.SUCCEEDED and run.resume_mode == ResumeMode.ALL_FAILED
    assert set(run.resume_from_node_ids) == {"left", "right"}
    with pytest.raises(Exception, match="no unresolved failed run"):
        await client.latest_failed("parallel")


async def test_resume_from_a_named_run_and_the_lineage_it_builds(
    client: Client, failed_parallel_run: str
) -> None:
    second = await client.resume("parallel", from_run=failed_parallel_run, env={"fail": ""})
    third = await client.resume("parallel", from_run=second.id, env=FAIL_NONE)

    assert (second.resume_from_run_id, third.resume_from_run_id) == (failed_parallel_run, second.id)
    assert third.status == RunStatus.SUCCEEDED and third.lineage_depth == 2
    context = await client.lineage(third.id)
    assert [run.id for run in context.lineage] == [third.id, second.id, failed_parallel_run]
    producers = {r.node_id: r.source_run_id for r in context.node_results}
    assert producers["start"] == failed_parallel_run and producers["left"] == second.id
    assert producers["right"] == third.id
    assert context.variables["l"] == "left" and context.variables["r"] == "right"


async def test_resume_rejects_node_and_all_failed_together(client: Client) -> None:
    with pytest.raises(ValueError, match="not both"):
        client.resume("parallel", node_id="left", all_failed=True)


async def test_list_runs_pages_newest_first_and_filters_by_status(
    client: Client, failed_parallel_run: str
) -> None:
    succeeded = [(await client.run("parallel", inputs={"trail": ""}, env=FAIL_NONE)).id for _ in range(2)]

    listed = [run.id async for run in client.list_runs("parallel", page_size=1)]
    failed = [run.id async for run in client.list_runs("parallel", statuses=[RunStatus.FAILED])]

    assert listed == [*reversed(succeeded), failed_parallel_run]
    assert failed == [failed_parallel_run]
    assert [run.id async for run in client.list_runs("other")] == []


async def test_watch_replays_from_a_sequence_to_the_finish(client: Client) -> None:
    await client.apply_workflow(chain_workflow("chain", 3))
    run = await client.run("chain")

    everything = [event async for event in client.watch(run.id)]
    tail = [event async for event in client.watch(run.id, after_sequence=4)]

    assert [e.sequence for e in everything] == list(range(1, run.last_sequence + 1))
    assert everything[0].kind == EventKind.RUN_STARTED and everything[-1].kind == EventKind.RUN_FINISHED
    assert everything[-1].run_status == RunStatus.SUCCEEDED
    assert tail == everything[4:]


async def test_watch_follows_a_live_run(client: Client) -> None:
    await client.apply_workflow(chain_workflow("chain", 4, seconds=0.05))
    handle = client.run("chain")
    accepted = await handle.start()

    watched = [event async for event in client.watch(accepted.run.id)]

    updates = [update async for update in handle]
    assert updates[0] is accepted, "start() keeps the accepted update for the iteration"
    assert [e.sequence for e in watched] == list(range(1, handle.finished.run.last_sequence + 1))  # type: ignore[union-attr]


async def test_cancel_stops_a_running_run(client: Client) -> None:
    await client.apply_workflow(chain_workflow("slow", 1, seconds=30))
    handle = client.run("slow")
    async for update in handle:
        if isinstance(update, Event) and (update.node_id, update.node_status) == ("n0", NodeStatus.RUNNING):
            break

    await handle.cancel()

    assert (await handle).status == RunStatus.CANCELLED
    assert (await client.get_run(handle.run_id)).node_result("n0").status == NodeStatus.CANCELLED  # type: ignore[union-attr]


async def test_the_same_request_id_follows_the_same_run(client: Client) -> None:
    await client.apply_workflow(chain_workflow("chain", 1))

    first = client.run("chain", request_id="order-1")
    first_run = await first
    second = client.run("chain", request_id="order-1")
    updates = [u async for u in second]

    assert updates[0].existing and second.run_id == first_run.id  # type: ignore[union-attr]
    assert second.finished is not None and second.finished.run.status == RunStatus.SUCCEEDED


@pytest.mark.parametrize("backend", [pytest.param(None, id="both-databases")])
async def test_a_fail_resume_succeed_cycle_on_each_database(database_url: str, backend: None) -> None:
    """The core flow through the client on SQLite and PostgreSQL alike."""
    from integration_helpers import start_services, stop_services

    services: Services = await start_services(database_url)
    runner, history = addresses(services)
    try:
        async with await Client.connect(runner, history_address=history) as client:
            await client.apply_workflow(parallel_workflow())
            failed = await client.run("parallel", inputs={"trail": ""}, env=FAIL_BOTH)
            resumed = await client.resume("parallel", all_failed=True, env=FAIL_NONE)
            assert (failed.status, resumed.status) == (RunStatus.FAILED, RunStatus.SUCCEEDED)
            assert resumed.resume_from_run_id == failed.id
    finally:
        await stop_services(services)
