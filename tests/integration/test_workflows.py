"""Storing workflows: validation listing every problem, versioning, listing."""

from __future__ import annotations

import grpc
import pytest
from integration_helpers import Services, edge, error_details, node, workflow

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import workflow_pb2


def small() -> workflow_pb2.Workflow:
    return workflow("small", [node("start", "start"), node("end", "end")], [("start", "end")])


async def test_put_workflow_assigns_version_one_and_timestamps(services: Services) -> None:
    stored = await services.put(small())
    assert stored.version == 1
    assert stored.create_time.seconds > 0 and stored.update_time.seconds > 0


async def test_every_change_increments_the_version_and_an_unchanged_put_does_not(services: Services) -> None:
    await services.put(small())
    unchanged = await services.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=small()))
    changed_definition = small()
    changed_definition.nodes.insert(1, node("pause", "noop"))
    del changed_definition.edges[:]
    changed_definition.edges.extend([edge("start", "pause"), edge("pause", "end")])
    changed = await services.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=changed_definition))

    assert (unchanged.workflow.version, unchanged.changed) == (1, False)
    assert (changed.workflow.version, changed.changed) == (2, True)
    first = await services.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="small", version=1))
    latest = await services.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="small"))
    assert len(first.workflow.nodes) == 2 and latest.workflow.version == 2


async def test_an_invalid_workflow_is_rejected_with_every_problem_and_nothing_stored(
    services: Services,
) -> None:
    bad = workflow(
        "Bad Id!",
        [
            node("start", "start"),
            node("a", "http"),  # no url
            node("a", "noop"),  # duplicate id
            node("b", "teleport"),  # unknown type
            node("orphan", "noop"),  # unreachable
            node("c", "set", values={"x": "{{ broken"}),  # template syntax error
        ],
        [("start", "a"), ("a", "ghost"), ("start", "b"), ("b", "c")],
    )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.put(bad)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, _, violations = error_details(raised.value)
    assert reason == "INVALID_WORKFLOW"
    fields = [field for field, _ in violations]
    assert "workflow.id" in fields
    assert "workflow.nodes[2].id" in fields
    assert "workflow.nodes[3].type" in fields
    assert any(f.startswith("workflow.nodes[1].config") for f in fields)
    assert any(f.startswith("workflow.nodes[5].config") for f in fields)
    assert "workflow.edges[1].target" in fields
    listed = await services.history.ListWorkflows(hpb.ListWorkflowsRequest())
    assert list(listed.workflows) == []


async def test_cycles_and_unreachable_nodes_are_reported(services: Services) -> None:
    cyclic = workflow(
        "cyclic",
        [node("start", "start"), node("a", "noop"), node("b", "noop")],
        [("start", "a"), ("a", "b"), ("b", "a")],
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.put(cyclic)
    descriptions = " ".join(description for _, description in error_details(raised.value)[2])
    assert "cycle" in descriptions


async def test_a_bad_put_leaves_the_stored_version_untouched(services: Services) -> None:
    await services.put(small())
    broken = small()
    broken.nodes.append(node("start2", "start"))
    with pytest.raises(grpc.aio.AioRpcError):
        await services.put(broken)
    latest = await services.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="small"))
    assert latest.workflow.version == 1 and len(latest.workflow.nodes) == 2


async def test_list_workflows_pages_through_every_workflow(services: Services) -> None:
    for index in range(5):
        await services.put(workflow(f"wf-{index}", [node("start", "start")], []))
    seen, token = [], ""
    while True:
        page = await services.history.ListWorkflows(hpb.ListWorkflowsRequest(page_size=2, page_token=token))
        seen += [w.id for w in page.workflows]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"wf-{index}" for index in range(5)]


async def test_get_workflow_of_an_unknown_id_is_not_found(services: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.GetWorkflow(hpb.GetWorkflowRequest(workflow_id="missing"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
