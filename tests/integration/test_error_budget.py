"""However many problems a request has, the client gets its real status: the first violations that
fit, the total in `total_violations`, long values shortened, all within the trailer limits."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from integration_helpers import Services, edge, node, workflow

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_core.rpc.errors import MAX_VIOLATIONS, STATUS_BUDGET_BYTES

# gRPC's default soft limit on a client's trailers: above it they are refused at random.
SOFT_METADATA_LIMIT = 8 * 1024


def unpacked(error: grpc.aio.AioRpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in status.details:
        assert detail.Unpack(info) or detail.Unpack(bad_request)
    return info, bad_request


def trailer_bytes(error: grpc.aio.AioRpcError) -> int:
    """What the status took of the trailers, as received."""
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    return len(error.details().encode()) * 3 + len(details) * 4 // 3


async def put_rejected(services: Services, definition: workflow_pb2.Workflow) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.put(definition)
    return raised.value


def assert_truncated(error: grpc.aio.AioRpcError, reason: str, total: int) -> error_details_pb2.BadRequest:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    info, bad_request = unpacked(error)
    assert info.reason == reason
    assert info.metadata["total_violations"] == str(total)
    assert 0 < len(bad_request.field_violations) <= min(total, MAX_VIOLATIONS)
    assert trailer_bytes(error) < SOFT_METADATA_LIMIT
    return bad_request


async def test_five_hundred_invalid_nodes_give_the_first_violations_and_their_total(
    services: Services,
) -> None:
    nodes = [node("start", "start")] + [node(f"n{i:03}", "teleport") for i in range(500)]
    edges = [("start", f"n{i:03}") for i in range(500)]

    error = await put_rejected(services, workflow("many", nodes, edges))

    bad_request = assert_truncated(error, "INVALID_WORKFLOW", 500)
    assert len(bad_request.field_violations) < 500
    first = bad_request.field_violations[0]
    assert (first.field, first.reason) == ("workflow.nodes[1].type", "UNKNOWN_NODE_TYPE")


async def test_a_cycle_through_ten_thousand_nodes_is_one_shortened_violation(services: Services) -> None:
    ids = [f"step-{i:05}" for i in range(10_000)]
    nodes = [node("start", "start")] + [node(node_id, "noop") for node_id in ids]
    edges = [edge("start", ids[0])] + [edge(a, b) for a, b in zip(ids, ids[1:] + ids[:1], strict=True)]

    error = await put_rejected(services, workflow("loop", nodes, edges))

    bad_request = assert_truncated(error, "INVALID_WORKFLOW", 1)
    (cycle,) = bad_request.field_violations
    assert cycle.reason == "CYCLE" and cycle.description.startswith("the graph has a cycle: ")
    assert cycle.description.endswith("…") and len(cycle.description.encode()) <= 512


async def test_a_twenty_thousand_character_id_is_shortened_everywhere(services: Services) -> None:
    long_id = "W" * 20_000

    error = await put_rejected(services, workflow(long_id, [node("start", "start")], []))

    assert_truncated(error, "INVALID_WORKFLOW", 1)
    info, _ = unpacked(error)
    assert info.metadata["workflow_id"].startswith("WWW") and info.metadata["workflow_id"].endswith("…")
    assert len(info.metadata["workflow_id"].encode()) <= 256
    assert len(error.details().encode()) <= 1024 and error.details().endswith("…")


async def test_a_run_id_of_twenty_thousand_characters_is_rejected_with_a_short_detail(
    services: Services,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.GetRun(hpb.GetRunRequest(run_id="r" * 20_000))

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad_request = unpacked(raised.value)
    assert info.reason == "INVALID_ARGUMENT"
    assert [v.field for v in bad_request.field_violations] == ["run_id"]
    assert trailer_bytes(raised.value) < SOFT_METADATA_LIMIT


async def test_a_resume_from_thousands_of_unknown_nodes_lists_the_first_and_counts_them_all(
    services: Services,
) -> None:
    await services.put(
        workflow(
            "fails",
            [node("start", "start"), node("check", "assert", assertions=["1 == 2"])],
            [("start", "check")],
        )
    )
    await services.run(rpb.RunWorkflowRequest(workflow_id="fails"))
    ghosts = [f"ghost-{i}" for i in range(3_000)]
    request = rpb.RunWorkflowRequest(
        workflow_id="fails",
        resume=run_pb2.ResumeSpec(mode=run_pb2.RESUME_MODE_ALL_FAILED, start_node_ids=ghosts),
    )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.run(request)

    bad_request = assert_truncated(raised.value, "INVALID_RESUME", 3_000)
    assert bad_request.field_violations[0].field == "resume.start_node_ids[0]"
    assert {v.reason for v in bad_request.field_violations} == {"UNKNOWN_NODE"}


def test_the_budget_leaves_room_under_the_soft_limit() -> None:
    assert STATUS_BUDGET_BYTES + 1024 < SOFT_METADATA_LIMIT
