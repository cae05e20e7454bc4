"""The requests the fuzzing of issue 10 answered with INTERNAL or UNKNOWN get client errors with a
reason on both databases, and a watch never waits for events that cannot come."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from integration_helpers import Services, error_details, node, workflow

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

Call = Callable[[Services, str], Awaitable[Any]]


async def finished_run(services: Services) -> str:
    await services.put(workflow("plain", [node("start", "start"), node("a", "noop")], [("start", "a")]))
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="plain"))
    return messages[0].accepted.run.id


def token(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def event(**fields: Any) -> run_pb2.Event:
    return run_pb2.Event(**{"sequence": 2, "kind": 2, **fields})


nan_inputs = struct_pb2.Struct(fields={"x": struct_pb2.Value(number_value=float("nan"))})

CASES: list[Any] = [
    pytest.param(
        lambda s, r: s.run(rpb.RunWorkflowRequest(workflow_id="plain", resume=run_pb2.ResumeSpec(mode=3))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "resume.mode",
        id="run-resume-mode-3",
    ),
    pytest.param(
        lambda s, r: s.runner.PlanResume(
            rpb.PlanResumeRequest(workflow_id="plain", resume=run_pb2.ResumeSpec(mode=-1))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "resume.mode",
        id="plan-mode-minus-1",
    ),
    pytest.param(
        lambda s, r: s.history.ListRuns(
            hpb.ListRunsRequest(page_token=token("0001-01-01T00:00:00+01:00", "x"))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
        id="list-runs-year-one-token",
    ),
    pytest.param(
        lambda s, r: s.history.ListWorkflows(hpb.ListWorkflowsRequest(page_token=token("a\x00"))),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
        id="list-workflows-nul-token",
    ),
    pytest.param(
        lambda s, r: s.history.HeartbeatRun(
            hpb.HeartbeatRunRequest(
                run_id=r, runner_id="x", lease_duration=duration_pb2.Duration(seconds=-(10**11))
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "lease_duration",
        id="heartbeat-negative-lease",
    ),
    pytest.param(
        lambda s, r: s.history.CreateRun(
            hpb.CreateRunRequest(
                run=run_pb2.Run(workflow_id="plain", workflow_version=1, status=99), runner_id="x"
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "run.status",
        id="create-run-unknown-status",
    ),
    pytest.param(
        lambda s, r: s.history.AppendEvents(
            hpb.AppendEventsRequest(run_id=r, runner_id="x", events=[event(node_status=42)])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "events[0].node_status",
        id="append-unknown-node-status",
    ),
    pytest.param(
        lambda s, r: s.history.AppendEvents(
            hpb.AppendEventsRequest(
                run_id=r, runner_id="x", events=[event(time=timestamp_pb2.Timestamp(seconds=10**15))]
            )
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "events[0].time",
        id="append-time-beyond-9999",
    ),
    pytest.param(
        lambda s, r: s.history.FinishRun(
            hpb.FinishRunRequest(run_id=r, runner_id="x", status=77, event=event(kind=3))
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "status",
        id="finish-unknown-status",
    ),
    pytest.param(
        lambda s, r: s.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="plain", version=2**31)),
        grpc.StatusCode.NOT_FOUND,
        "",
        id="get-workflow-version-2-31",
    ),
    pytest.param(
        lambda s, r: s.get_run(r + "\x00"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "run_id",
        id="get-run-nul",
    ),
    pytest.param(
        lambda s, r: s.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="pla\x00in")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "workflow_id",
        id="get-workflow-nul",
    ),
    pytest.param(
        lambda s, r: s.run(rpb.RunWorkflowRequest(workflow_id="plain", request_id="key\x00")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "request_id",
        id="run-request-id-nul",
    ),
    pytest.param(
        lambda s, r: s.run(rpb.RunWorkflowRequest(workflow_id="plain", inputs=nan_inputs)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "inputs",
        id="run-inputs-nan",
    ),
    pytest.param(
        lambda s, r: s.put(
            workflow("plain", [node("start", "start"), node("n" * 300, "noop")], [("start", "n" * 300)])
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "workflow.nodes[1].id",
        id="put-node-id-too-long",
    ),
]


@pytest.mark.parametrize(("call", "code", "field"), CASES)
async def test_a_hostile_request_gets_a_client_error_with_a_reason(
    services: Services, call: Call, code: grpc.StatusCode, field: str
) -> None:
    run_id = await finished_run(services)
    before = await services.get_run(run_id)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(services, run_id)

    assert raised.value.code() == code, raised.value.details()
    reason, _, violations = error_details(raised.value)
    assert reason
    if field:
        assert violations[0][0] == field  # first: a node with an unusable id is unknown to edges too
    assert await services.get_run(run_id) == before


async def test_a_watch_from_or_past_the_last_event_of_a_finished_run_ends_at_once(services: Services) -> None:
    # What a client reconnecting after the end asks (issue 9): never a hang, never an error, even
    # past what the database's INTEGER column could hold (PostgreSQL gave INTERNAL for 2**31).
    run = await services.get_run(await finished_run(services))

    for after in (run.last_sequence, 100, 2**31, 2**62):
        assert await services.events(run.id, after) == [], after


async def test_an_undecodable_request_is_invalid_argument_not_unknown(services: Services) -> None:
    bad_utf8 = b"\x0a\x03\xff\xfe\xfd"  # GetRunRequest.run_id of three bytes that are not UTF-8
    for method, call in [
        ("/resumeflow.v1.HistoryService/GetRun", services.history_channel.unary_unary),
        ("/resumeflow.v1.HistoryService/WatchRun", services.history_channel.unary_stream),
        ("/resumeflow.v1.RunnerService/CancelRun", services.runner_channel.unary_unary),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            result = call(method)(bad_utf8)
            if hasattr(result, "__aiter__"):
                [_ async for _ in result]
            else:
                await result
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method
        assert error_details(raised.value)[0] == "MALFORMED_REQUEST"


async def test_a_node_error_quoting_a_nul_is_recorded_with_a_replacement_character(
    services: Services,
) -> None:
    nodes = [node("start", "start"), node("check", "assert", assertions=["vars.x == 'a\x00b'"])]
    await services.put(workflow("nul", nodes, [("start", "check")]))

    inputs = struct_pb2.Struct()
    inputs.update({"x": "c"})
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="nul", inputs=inputs))

    run = await services.get_run(messages[0].accepted.run.id)
    assert run.status == run_pb2.RUN_STATUS_FAILED
    (result,) = [r for r in run.node_results if r.node_id == "check"]
    assert "\x00" not in result.error.message and "\N{REPLACEMENT CHARACTER}" in result.error.message
