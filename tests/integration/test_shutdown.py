"""A stopping runner loses nothing: it turns new runs away, lets nodes in flight finish for its
grace, fails what is unfinished with RUNNER_SHUTDOWN and records every run's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from integration_helpers import (
    Services,
    error_details,
    node,
    read_to_end,
    start_services,
    stop_services,
    streamed_events,
    wait_for_node,
    workflow,
)

from history_service.server import start_history_server
from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc
from resumeflow.v1 import runner_service_pb2 as rpb
from runner_service.server import start_runner_server

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus


def chain(first_seconds: float) -> object:
    """start → first (a delay) → second → end."""
    return workflow(
        "chain",
        [
            node("start", "start"),
            node("first", "delay", seconds=first_seconds),
            node("second", "delay", seconds=0),
            node("end", "end"),
        ],
        [("start", "first"), ("first", "second"), ("second", "end")],
    )


@pytest.fixture
async def one_slot(database_url: str) -> AsyncIterator[Services]:
    """Both services; the runner executes one run at a time."""
    started = await start_services(database_url, max_active_runs=1)
    try:
        yield started
    finally:
        await stop_services(started)


async def started_run(services: Services, node_id: str = "first") -> tuple[grpc.aio.UnaryStreamCall, str]:
    """A RunWorkflow call of `chain`, read until `node_id` is RUNNING."""
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="chain"))
    run_id = (await call.read()).accepted.run.id
    await wait_for_node(call, node_id, NS.NODE_STATUS_RUNNING)
    return call, run_id


async def assert_log_matches_stream(services: Services, run_id: str, streamed: list[run_pb2.Event]) -> None:
    events = await services.events(run_id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED
    seen = {(e.sequence, e.node_id, e.node_status) for e in streamed}
    assert seen <= {(e.sequence, e.node_id, e.node_status) for e in events}


async def test_a_node_outliving_the_grace_fails_runner_shutdown_and_resumes_after_a_restart(
    services: Services,
) -> None:
    await services.put(chain(30))
    call, run_id = await started_run(services)

    await services.runner_server.stop(0.2)
    rest = await read_to_end(call)

    finished = rest[-1].finished.run
    assert finished.status == RS.RUN_STATUS_FAILED
    assert "RUNNER_SHUTDOWN" in finished.error_summary
    run = await services.get_run(run_id)
    results = {r.node_id: r for r in run.node_results}
    assert (results["first"].status, results["first"].error.code) == (
        NS.NODE_STATUS_FAILED,
        "RUNNER_SHUTDOWN",
    )
    assert results["second"].status == NS.NODE_STATUS_BLOCKED
    await assert_log_matches_stream(services, run_id, streamed_events(rest))
    latest = await services.history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id="chain"))
    assert latest.run.id == run_id

    await services.put(chain(0))  # the restarted runner runs the fixed (quick) version
    restarted = await start_runner_server("127.0.0.1:0", f"127.0.0.1:{services.history_server.port}")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{restarted.port}") as channel:
            stub = runner_service_pb2_grpc.RunnerServiceStub(channel)
            resumed = [
                m
                async for m in stub.RunWorkflow(
                    rpb.RunWorkflowRequest(workflow_id="chain", resume=run_pb2.ResumeSpec())
                )
            ]
    finally:
        await restarted.stop(0)
    assert resumed[0].accepted.run.resume_from_run_id == run_id
    assert resumed[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED


async def test_nodes_in_flight_finish_within_the_grace_and_the_next_ones_do_not_start(
    services: Services,
) -> None:
    await services.put(chain(0.3))
    call, run_id = await started_run(services)

    await services.runner_server.stop(10)
    rest = await read_to_end(call)

    assert rest[-1].finished.run.status == RS.RUN_STATUS_FAILED
    run = await services.get_run(run_id)
    results = {r.node_id: r for r in run.node_results}
    assert results["first"].status == NS.NODE_STATUS_SUCCEEDED
    assert (results["second"].status, results["second"].error.code) == (
        NS.NODE_STATUS_FAILED,
        "RUNNER_SHUTDOWN",
    )
    assert results["second"].attempts == 0
    assert results["end"].status == NS.NODE_STATUS_BLOCKED


async def test_a_stopping_runner_turns_new_and_queued_runs_away_without_storing_them(
    one_slot: Services,
) -> None:
    services = one_slot
    await services.put(chain(30))
    call, run_id = await started_run(services)
    queued = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="chain"))
    queued_read = asyncio.ensure_future(queued.read())
    await asyncio.sleep(0.2)  # the second request waits for the only slot

    stopping = asyncio.ensure_future(services.runner_server.stop(1.0))
    await asyncio.sleep(0.1)
    with pytest.raises(grpc.aio.AioRpcError) as new:
        await services.run(rpb.RunWorkflowRequest(workflow_id="chain"))
    with pytest.raises(grpc.aio.AioRpcError) as waiting:
        await queued_read
    await stopping
    await read_to_end(call)

    for refused in (new.value, waiting.value):
        assert refused.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(refused)[0] == "SHUTTING_DOWN"
        assert "shutting down" in (refused.details() or "")
    runs = await services.history.ListRuns(hpb.ListRunsRequest(workflow_id="chain"))
    assert [r.id for r in runs.runs] == [run_id]


async def test_a_run_cancelled_by_its_user_stays_cancelled_through_a_shutdown(services: Services) -> None:
    await services.put(chain(30))
    call, run_id = await started_run(services)

    await services.runner.CancelRun(rpb.CancelRunRequest(run_id=run_id))
    await services.runner_server.stop(0)
    rest = await read_to_end(call)

    assert rest[-1].finished.run.status == RS.RUN_STATUS_CANCELLED
    assert (await services.get_run(run_id)).status == RS.RUN_STATUS_CANCELLED


async def test_a_stopping_history_takes_the_runners_writes_until_the_run_is_recorded(
    services: Services, database_url: str
) -> None:
    await services.put(chain(30))
    call, run_id = await started_run(services)

    history_stopping = asyncio.ensure_future(services.history_server.stop(20))
    await asyncio.sleep(0.3)
    assert not history_stopping.done()  # the run is still being written through it
    await services.runner_server.stop(0.1)
    await asyncio.wait_for(history_stopping, 10)
    rest = await read_to_end(call)

    assert rest[-1].finished.run.status == RS.RUN_STATUS_FAILED
    services.history_server = await start_history_server("127.0.0.1:0", database_url)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{services.history_server.port}") as channel:
        history = history_service_pb2_grpc.HistoryServiceStub(channel)
        run = (await history.GetRun(hpb.GetRunRequest(run_id=run_id))).run
        watch = history.WatchRun(hpb.WatchRunRequest(run_id=run_id), timeout=5)
        events = [e async for response in watch for e in response.events]
    assert run.status == RS.RUN_STATUS_FAILED and "RUNNER_SHUTDOWN" in run.error_summary
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].sequence == rest[-1].finished.sequence
