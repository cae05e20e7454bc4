"""Runs end to end: apply a workflow, run it, follow the stream, read the stored history."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from integration_helpers import (
    Services,
    edge,
    error_details,
    node,
    read_to_end,
    streamed_events,
    struct,
    wait_for_node,
    workflow,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus


def linear_workflow() -> object:
    return workflow(
        "linear",
        [
            node("start", "start"),
            node("greet", "set", values={"greeting": "hello {{ vars.name }}"}),
            node("check", "assert", assertions=["vars.greeting == 'hello ada'"]),
            node("end", "end"),
        ],
        [("start", "greet"), ("greet", "check"), ("check", "end")],
    )


def node_events(messages: list[rpb.RunWorkflowResponse]) -> list[tuple[str, int]]:
    return [(e.node_id, e.node_status) for e in streamed_events(messages)]


async def test_a_run_streams_accepted_every_node_transition_and_finished(services: Services) -> None:
    await services.put(linear_workflow())

    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="linear", inputs=struct(name="ada")))

    assert messages[0].WhichOneof("payload") == "accepted"
    assert messages[-1].WhichOneof("payload") == "finished"
    expected = []
    for node_id in ("start", "greet", "check", "end"):
        expected += [(node_id, NS.NODE_STATUS_RUNNING), (node_id, NS.NODE_STATUS_SUCCEEDED)]
    assert node_events(messages) == expected
    finished = messages[-1].finished
    assert finished.run.status == RS.RUN_STATUS_SUCCEEDED
    assert finished.run.variables["greeting"] == "hello ada"
    sequences = [e.sequence for e in streamed_events(messages)]
    assert sequences == list(range(2, 2 + len(sequences)))
    assert finished.sequence == sequences[-1] + 1


async def test_get_run_shows_the_stored_statuses_after_the_run(services: Services) -> None:
    await services.put(linear_workflow())
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="linear", inputs=struct(name="ada")))
    run_id = messages[0].accepted.run.id

    run = await services.get_run(run_id)

    assert run.status == RS.RUN_STATUS_SUCCEEDED
    assert run.workflow_version == 1
    assert run.root_run_id == run_id and run.lineage_depth == 0
    assert [(r.node_id, r.status) for r in run.node_results] == [
        (n, NS.NODE_STATUS_SUCCEEDED) for n in ("start", "greet", "check", "end")
    ]
    greet = next(r for r in run.node_results if r.node_id == "greet")
    assert greet.attempts == 1 and greet.variables["greeting"] == "hello ada"
    assert greet.start_time.ToDatetime() <= greet.end_time.ToDatetime()


async def test_the_event_log_is_gapless_and_matches_the_stream(services: Services) -> None:
    await services.put(linear_workflow())
    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="linear", inputs=struct(name="ada")))
    run_id = messages[0].accepted.run.id

    events = await services.events(run_id)

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == run_pb2.EVENT_KIND_RUN_STARTED
    assert events[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED
    assert events[-1].run_status == RS.RUN_STATUS_SUCCEEDED
    streamed = [(e.sequence, e.node_id, e.node_status) for e in streamed_events(messages)]
    assert [(e.sequence, e.node_id, e.node_status) for e in events[1:-1]] == streamed


def nb3_nb4_workflow(base_url: str) -> object:
    """The product note's case: start → two parallel http branches → join → end."""
    return workflow(
        "nb3-nb4",
        [
            node("start", "start"),
            node("nb3", "http", label="Fetch profile", url=f"{base_url}/profile"),
            node("nb4", "http", label="Fetch orders", url=f"{base_url}/orders"),
            node("join", "noop", label="Join"),
            node("end", "end"),
        ],
        [("start", "nb3"), ("start", "nb4"), ("nb3", "join"), ("nb4", "join"), ("join", "end")],
    )


async def test_both_parallel_branches_fail_and_the_join_is_blocked(
    services: Services, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/profile").respond_with_data("profile down", status=503)
    httpserver.expect_request("/orders").respond_with_data("orders down", status=500)
    await services.put(nb3_nb4_workflow(httpserver.url_for("")))

    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="nb3-nb4"))

    finished = messages[-1].finished.run
    assert finished.status == RS.RUN_STATUS_FAILED
    assert list(finished.failed_node_ids) == ["nb3", "nb4"]
    assert "nb3" in finished.error_summary and "nb4" in finished.error_summary
    run = await services.get_run(finished.id)
    statuses = {r.node_id: r.status for r in run.node_results}
    assert statuses == {
        "start": NS.NODE_STATUS_SUCCEEDED,
        "nb3": NS.NODE_STATUS_FAILED,
        "nb4": NS.NODE_STATUS_FAILED,
        "join": NS.NODE_STATUS_BLOCKED,
        "end": NS.NODE_STATUS_BLOCKED,
    }
    errors = {r.node_id: r.error for r in run.node_results if r.HasField("error")}
    assert errors["nb3"].code == "HTTP_STATUS" and "503" in errors["nb3"].message
    assert errors["nb4"].code == "HTTP_STATUS" and "500" in errors["nb4"].message
    events = await services.events(finished.id)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert ("join", NS.NODE_STATUS_BLOCKED) in [(e.node_id, e.node_status) for e in events]


async def test_a_failing_branch_does_not_stop_the_independent_one(
    services: Services, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/profile").respond_with_json({"name": "ada"})
    httpserver.expect_request("/orders").respond_with_data("down", status=500)
    await services.put(nb3_nb4_workflow(httpserver.url_for("")))

    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="nb3-nb4"))

    run = await services.get_run(messages[-1].finished.run.id)
    statuses = {r.node_id: r.status for r in run.node_results}
    assert statuses["nb3"] == NS.NODE_STATUS_SUCCEEDED
    assert statuses["nb4"] == NS.NODE_STATUS_FAILED
    profile = next(r for r in run.node_results if r.node_id == "nb3")
    assert profile.output.struct_value["body"]["name"] == "ada"
    assert list(run.failed_node_ids) == ["nb4"]


async def test_http_extract_feeds_later_nodes_and_condition_skips_the_other_branch(
    services: Services, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/login", method="POST", json={"user": "ada"}).respond_with_json(
        {"token": "t-1", "admin": False}
    )
    httpserver.expect_request("/me", headers={"Authorization": "Bearer t-1"}).respond_with_json({"id": 7})
    await services.put(
        workflow(
            "login",
            [
                node("start", "start"),
                node(
                    "login",
                    "http",
                    method="POST",
                    url=httpserver.url_for("/login"),
                    body={"user": "{{ vars.user }}"},
                    extract={"token": "response.body.token", "admin": "response.body.admin"},
                ),
                node("is_admin", "condition", expression="vars.admin"),
                node("admin_only", "noop"),
                node(
                    "me",
                    "http",
                    url=httpserver.url_for("/me"),
                    headers={"Authorization": "Bearer {{ vars.token }}"},
                ),
                node("end", "end"),
            ],
            [
                edge("start", "login"),
                edge("login", "is_admin"),
                edge("is_admin", "admin_only", "true"),
                edge("is_admin", "me", "false"),
                edge("admin_only", "end"),
                edge("me", "end"),
            ],
        )
    )

    messages = await services.run(rpb.RunWorkflowRequest(workflow_id="login", inputs=struct(user="ada")))

    finished = messages[-1].finished.run
    assert finished.status == RS.RUN_STATUS_SUCCEEDED, finished.error_summary
    run = await services.get_run(finished.id)
    statuses = {r.node_id: r.status for r in run.node_results}
    assert statuses["admin_only"] == NS.NODE_STATUS_SKIPPED
    assert statuses["me"] == NS.NODE_STATUS_SUCCEEDED
    assert statuses["end"] == NS.NODE_STATUS_SUCCEEDED
    assert run.variables["token"] == "t-1"


async def test_secrets_are_redacted_from_everything_stored_and_streamed(
    services: Services, httpserver: HTTPServer
) -> None:
    secret = "s3cr3t-value-42"

    def echo(request: Request) -> Response:
        return Response(f"denied for {request.headers.get('X-Api-Key')}", status=401)

    httpserver.expect_request("/secure").respond_with_handler(echo)
    await services.put(
        workflow(
            "secretive",
            [
                node("start", "start"),
                node("remember", "set", values={"key_copy": "{{ secrets.api_key }}"}),
                node(
                    "call",
                    "http",
                    url=httpserver.url_for("/secure"),
                    headers={"X-Api-Key": "{{ secrets.api_key }}"},
                ),
                node("end", "end"),
            ],
            [("start", "remember"), ("remember", "call"), ("call", "end")],
        )
    )

    messages = await services.run(
        rpb.RunWorkflowRequest(
            workflow_id="secretive", secrets={"api_key": secret}, inputs=struct(echo=secret)
        )
    )

    run_id = messages[0].accepted.run.id
    run = await services.get_run(run_id)
    events = await services.events(run_id)
    everything = "".join(str(m) for m in messages) + str(run) + "".join(str(e) for e in events)
    assert secret not in everything
    call = next(r for r in run.node_results if r.node_id == "call")
    assert call.status == NS.NODE_STATUS_FAILED and "***" in call.error.message
    assert run.variables["key_copy"] == "***"
    assert run.inputs["echo"] == "***"


async def test_the_same_request_id_returns_the_same_run(services: Services) -> None:
    await services.put(linear_workflow())
    request = rpb.RunWorkflowRequest(workflow_id="linear", inputs=struct(name="ada"), request_id="order-77")

    first = await services.run(request)
    second = await services.run(request)

    assert second[0].accepted.existing is True
    assert second[0].accepted.run.id == first[0].accepted.run.id
    assert second[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED
    assert node_events(second) == node_events(first)
    listed = await services.history.ListRuns(hpb.ListRunsRequest(workflow_id="linear"))
    assert len(listed.runs) == 1


def slow_workflow(seconds: float) -> object:
    return workflow(
        "slow",
        [node("start", "start"), node("wait", "delay", seconds=seconds), node("end", "end")],
        [("start", "wait"), ("wait", "end")],
    )


async def test_a_client_that_disconnects_does_not_cancel_its_run(services: Services) -> None:
    await services.put(slow_workflow(0.3))
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="slow"))
    accepted = await call.read()
    call.cancel()

    events = await services.events(accepted.accepted.run.id)

    assert events[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED
    assert events[-1].run_status == RS.RUN_STATUS_SUCCEEDED


async def test_cancel_run_stops_the_run_and_cancels_its_nodes(services: Services) -> None:
    await services.put(slow_workflow(30))
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="slow"))
    run_id = (await call.read()).accepted.run.id
    await wait_for_node(call, "wait", NS.NODE_STATUS_RUNNING)

    await services.runner.CancelRun(rpb.CancelRunRequest(run_id=run_id))
    rest = await read_to_end(call)

    assert rest[-1].finished.run.status == RS.RUN_STATUS_CANCELLED
    run = await services.get_run(run_id)
    statuses = {r.node_id: r.status for r in run.node_results}
    assert statuses["wait"] == NS.NODE_STATUS_CANCELLED
    assert statuses["end"] == NS.NODE_STATUS_CANCELLED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.runner.CancelRun(rpb.CancelRunRequest(run_id=run_id))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(raised.value)[0] == "RUN_FINISHED"


async def test_many_watchers_each_see_every_event_once_in_order(services: Services) -> None:
    nodes = (
        [node("start", "start")]
        + [node(f"n{i}", "delay", seconds=0.01) for i in range(10)]
        + [node("end", "end")]
    )
    edges = [("start", "n0")] + [(f"n{i}", f"n{i + 1}") for i in range(9)] + [("n9", "end")]
    await services.put(workflow("chain", nodes, edges))
    call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="chain"))
    run_id = (await call.read()).accepted.run.id

    watched = await asyncio.gather(
        *(services.events(run_id) for _ in range(8)), services.events(run_id, after=5)
    )
    await read_to_end(call)

    full = watched[0]
    assert [e.sequence for e in full] == list(range(1, len(full) + 1))
    assert full[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED
    for other in watched[1:-1]:
        assert other == full
    assert watched[-1] == full[5:]


async def test_an_unknown_workflow_is_not_found(services: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.run(rpb.RunWorkflowRequest(workflow_id="nope"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(raised.value)[0] == "WORKFLOW_NOT_FOUND"


async def test_a_malformed_run_request_lists_every_problem(services: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.run(rpb.RunWorkflowRequest(max_concurrency=-1, request_id="x" * 500))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    _, _, violations = error_details(raised.value)
    assert {field for field, _ in violations} == {"workflow_id", "max_concurrency", "request_id"}


async def test_get_run_of_an_unknown_run_is_not_found_with_a_reason(services: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.get_run("does-not-exist")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    reason, metadata, _ = error_details(raised.value)
    assert reason == "RUN_NOT_FOUND" and metadata["run_id"] == "does-not-exist"


async def test_secrets_in_request_urls_stay_out_of_the_logs(
    services: Services, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "url-secret-9"
    httpserver.expect_request("/call").respond_with_data("ok")
    await services.put(
        workflow(
            "secret-url",
            [
                node("start", "start"),
                node("call", "http", url=httpserver.url_for("/call") + "?k={{ secrets.k }}"),
            ],
            [("start", "call")],
        )
    )

    with caplog.at_level("DEBUG"):
        await services.run(rpb.RunWorkflowRequest(workflow_id="secret-url", secrets={"k": secret}))

    # The test's own HTTP server (werkzeug) logs the request it received; the services must not.
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]
    assert ours, "the services logged nothing at all: the check would be vacuous"
    assert not [r.getMessage() for r in ours if secret in r.getMessage()]
