"""The http node's cap and destination policy through real servers on both databases: the node
fails with its code, the run fails, and the run resumes once the cause is fixed. Loopback only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from integration_helpers import Services, node, start_services, stop_services, workflow
from loopback import fixed, serve

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_core.nodes.destinations import DestinationPolicy
from resumeflow_core.nodes.http_settings import HttpSettings

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus
CAP = 4096


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Both services; the runner caps bodies at 4 KiB and denies 127.0.0.2."""
    settings = HttpSettings(max_response_bytes=CAP, policy=DestinationPolicy.parse(deny=["127.0.0.2/32"]))
    started = await start_services(database_url, http_settings=settings)
    try:
        yield started
    finally:
        await stop_services(started)


def one_call(url: str) -> workflow_pb2.Workflow:
    call = node("call", "http", url=url)
    call.retry.max_attempts = 3  # only failures a retry could fix are retried
    nodes = [node("start", "start"), call, node("end", "end")]
    return workflow("limits", nodes, [("start", "call"), ("call", "end")])


async def run_once(services: Services) -> tuple[run_pb2.Run, run_pb2.Run]:
    """Run the workflow; its RunFinished run and the stored run with its node results."""
    first = (await services.run(rpb.RunWorkflowRequest(workflow_id="limits")))[-1].finished.run
    return first, await services.get_run(first.id)


async def resume(services: Services) -> run_pb2.Run:
    spec = run_pb2.ResumeSpec(mode=run_pb2.RESUME_MODE_ALL_FAILED)
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="limits", resume=spec))
    return messages[-1].finished.run


def call_result(run: run_pb2.Run) -> run_pb2.NodeResult:
    return next(r for r in run.node_results if r.node_id == "call")


async def test_a_body_over_the_cap_fails_the_node_and_the_run_resumes_once_it_fits(
    services: Services,
) -> None:
    body = {"size": CAP + 1}

    async def respond(head: bytes, writer: asyncio.StreamWriter) -> None:
        await fixed(200, b"x" * body["size"])(head, writer)

    async with serve(respond) as server:
        await services.put(one_call(server.url("/big")))
        finished, stored = await run_once(services)
        body["size"] = CAP
        resumed = await resume(services)

    assert finished.status == RS.RUN_STATUS_FAILED and list(finished.failed_node_ids) == ["call"]
    result = call_result(stored)
    assert result.status == NS.NODE_STATUS_FAILED and result.error.code == "RESPONSE_TOO_LARGE"
    assert f"larger than {CAP} bytes" in result.error.message
    assert resumed.status == RS.RUN_STATUS_SUCCEEDED
    assert resumed.resume_from_run_id == finished.id


async def test_a_denied_destination_fails_the_node_without_a_connection_and_resumes_once_fixed(
    services: Services,
) -> None:
    async with serve(fixed(200, b"ok"), host="127.0.0.2") as denied, serve(fixed(200, b"ok")) as allowed:
        await services.put(one_call(denied.url("/inside")))
        finished, stored = await run_once(services)
        latest = await services.history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id="limits"))
        await services.put(one_call(allowed.url("/outside")))
        resumed = await resume(services)

    assert denied.accepted == 0 and allowed.accepted == 1
    assert finished.status == RS.RUN_STATUS_FAILED
    result = call_result(stored)
    assert result.status == NS.NODE_STATUS_FAILED and result.error.code == "DESTINATION_DENIED"
    assert result.attempts == 1  # a refusal is not retried
    assert "127.0.0.2 is in the denied network 127.0.0.2/32" in result.error.message
    assert latest.run.id == finished.id and [n.node_id for n in latest.failed_nodes] == ["call"]
    assert resumed.status == RS.RUN_STATUS_SUCCEEDED and resumed.resume_from_run_id == finished.id
