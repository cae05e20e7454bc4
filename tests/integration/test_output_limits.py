"""Large outputs fail their node (OUTPUT_TOO_LARGE), never the recording of the run; results
larger together than gRPC's default 4 MiB message are recorded and read back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from integration_helpers import Services, node, start_services, stop_services, streamed_events, workflow
from pytest_httpserver import HTTPServer

from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_client import Client, RunStatus
from resumeflow_core.limits import DEFAULT_MAX_NODE_OUTPUT_BYTES

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus
MB = 1_000_000


@pytest.fixture
def loopback_http() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def three_steps(workflow_id: str, middle: workflow_pb2.Node) -> workflow_pb2.Workflow:
    """start → before → `middle` (id big) → after → end."""
    return workflow(
        workflow_id,
        [
            node("start", "start"),
            node("before", "set", values={"ready": True}),
            middle,
            node("after", "set", values={"done": True}),
            node("end", "end"),
        ],
        [("start", "before"), ("before", "big"), ("big", "after"), ("after", "end")],
    )


async def assert_big_failed_and_resumable(services: Services, workflow_id: str) -> str:
    """Run `workflow_id`: big FAILED OUTPUT_TOO_LARGE, the run FAILED (not lost), its log intact."""
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id=workflow_id))

    finished = messages[-1].finished.run
    assert finished.status == RS.RUN_STATUS_FAILED
    assert list(finished.failed_node_ids) == ["big"]
    assert not finished.error_summary.startswith("RUNNER_LOST")
    run = await services.get_run(finished.id)
    results = {r.node_id: r for r in run.node_results}
    big = results["big"]
    assert (big.status, big.error.code) == (NS.NODE_STATUS_FAILED, "OUTPUT_TOO_LARGE")
    assert f"limit of {DEFAULT_MAX_NODE_OUTPUT_BYTES:,} bytes" in big.error.message
    assert not big.HasField("output") and not big.variables
    assert results["before"].status == NS.NODE_STATUS_SUCCEEDED
    assert results["after"].status == NS.NODE_STATUS_BLOCKED
    events = await services.events(finished.id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    stored = [(e.sequence, e.node_id, e.node_status) for e in events[1:-1]]
    assert stored == [(e.sequence, e.node_id, e.node_status) for e in streamed_events(messages)]
    return big.error.message


async def assert_resume_succeeds(services: Services, workflow_id: str) -> None:
    """The default resume (latest failed run, first failed node) finishes the run."""
    messages = await services.run(
        rpb.RunWorkflowRequest(workflow_id=workflow_id, resume=run_pb2.ResumeSpec())
    )

    assert list(messages[0].accepted.restored_node_ids) == ["start", "before"]
    assert messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED


async def test_a_set_node_writing_a_1_5_mb_value_fails_output_too_large_and_resumes_once_fixed(
    services: Services,
) -> None:
    value = "v" * (3 * MB // 2)
    await services.put(three_steps("big-set", node("big", "set", values={"blob": value})))

    message = await assert_big_failed_and_resumable(services, "big-set")
    # `set` stores the value twice, as its output and as the variable it writes.
    stored = 2 * len(json.dumps({"blob": value}, separators=(",", ":")))
    assert f"are {stored:,} bytes serialized" in message

    await services.put(three_steps("big-set", node("big", "set", values={"blob": "small"})))
    await assert_resume_succeeds(services, "big-set")


async def test_an_http_node_receiving_5_mb_fails_output_too_large_and_resumes_once_fixed(
    services: Services, loopback_http: HTTPServer
) -> None:
    loopback_http.expect_request("/big").respond_with_data("b" * (5 * MB), content_type="text/plain")
    loopback_http.expect_request("/small").respond_with_json({"ok": True})
    await services.put(three_steps("big-http", node("big", "http", url=loopback_http.url_for("/big"))))

    message = await assert_big_failed_and_resumable(services, "big-http")
    assert "5,0" in message.split(" bytes serialized")[0]  # the body's 5,000,000 bytes and more

    await services.put(three_steps("big-http", node("big", "http", url=loopback_http.url_for("/small"))))
    await assert_resume_succeeds(services, "big-http")


async def test_results_over_4_mib_together_are_recorded_and_read_back(services: Services) -> None:
    parts = [f"p{i}" for i in range(6)]  # 6 results of 1 MB stored (value and variable), one dispatch
    flow = workflow(
        "wide",
        [node("start", "start")] + [node(p, "set", values={p: p * (MB // 4)}) for p in parts],
        [("start", p) for p in parts],
    )
    await services.put(flow)

    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="wide"))

    assert messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED
    runner, history = services.runner_server.port, services.history_server.port
    async with await Client.connect(f"127.0.0.1:{runner}", history_address=f"127.0.0.1:{history}") as client:
        run = await client.get_run(messages[0].accepted.run.id)
    assert run.status == RunStatus.SUCCEEDED
    assert {r.node_id: len(r.variables[r.node_id]) for r in run.node_results if r.variables} == {
        p: len(p) * (MB // 4) for p in parts
    }


async def test_the_runners_limit_is_configurable(sqlite_database_url: str) -> None:
    started = await start_services(sqlite_database_url, max_node_output_bytes=100)
    try:
        flow = workflow(
            "small-limit",
            [node("start", "start"), node("big", "set", values={"v": "x" * 60})],
            [("start", "big")],
        )
        await started.put(flow)

        messages = await started.run(rpb.RunWorkflowRequest(workflow_id="small-limit"))

        run = await started.get_run(messages[-1].finished.run.id)
        big = next(r for r in run.node_results if r.node_id == "big")
        assert big.error.code == "OUTPUT_TOO_LARGE" and "limit of 100 bytes" in big.error.message
    finally:
        await stop_services(started)
