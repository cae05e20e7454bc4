"""WatchRun at the edges: a finished run watched from its end or past it, and a draining replica."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from integration_helpers import Services, error_details, node, read_to_end, workflow

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

WATCH_DEADLINE = 5.0  # seconds; a watch that hangs fails the test instead of the suite


def short_workflow(seconds: float = 0.0) -> object:
    return workflow(
        "short",
        [node("start", "start"), node("wait", "delay", seconds=seconds), node("end", "end")],
        [("start", "wait"), ("wait", "end")],
    )


async def watch(services: Services, run_id: str, after: int) -> list[run_pb2.Event]:
    call = services.history.WatchRun(
        hpb.WatchRunRequest(run_id=run_id, after_sequence=after), timeout=WATCH_DEADLINE
    )
    return [event async for response in call for event in response.events]


async def finished_run(services: Services) -> tuple[str, int]:
    """A finished run of `short` and its last sequence."""
    await services.put(short_workflow())
    messages = [m async for m in services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="short"))]
    return messages[0].accepted.run.id, messages[-1].finished.sequence


@pytest.mark.parametrize(
    "past_end",
    [
        pytest.param(0, id="at-the-last-sequence"),
        pytest.param(5, id="past-the-end"),
        pytest.param(2**31 - 1, id="int32-max"),
    ],
)
async def test_watching_a_finished_run_from_its_end_or_past_it_ends_at_once_and_empty(
    services: Services, past_end: int
) -> None:
    run_id, last = await finished_run(services)

    after = 2**31 - 1 if past_end == 2**31 - 1 else last + past_end
    assert await watch(services, run_id, after) == []


async def test_watching_a_finished_run_near_its_end_returns_exactly_the_tail(services: Services) -> None:
    run_id, last = await finished_run(services)

    tail = await watch(services, run_id, last - 2)

    assert [e.sequence for e in tail] == [last - 1, last]
    assert tail[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED


async def test_a_live_watch_from_past_the_end_ends_when_the_run_finishes(services: Services) -> None:
    await services.put(short_workflow(0.3))
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="short"))
    run_id = (await call.read()).accepted.run.id

    watched = await watch(services, run_id, 1000)
    rest = await read_to_end(call)

    assert watched == []
    assert rest[-1].finished.run.status == run_pb2.RUN_STATUS_SUCCEEDED


async def test_a_history_shutting_down_ends_live_watches_with_unavailable(services: Services) -> None:
    await services.put(short_workflow(30))
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="short"))
    run_id = (await call.read()).accepted.run.id
    watcher = asyncio.ensure_future(watch(services, run_id, 0))
    await asyncio.sleep(0.2)  # the watcher replayed the log and waits for live events

    services.history_server.history.hub.close()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await watcher
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(raised.value)[0] == "SHUTTING_DOWN"
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await watch(services, run_id, 0)
    assert error_details(refused.value)[0] == "SHUTTING_DOWN"
    await services.runner.CancelRun(rpb.CancelRunRequest(run_id=run_id))
    call.cancel()
