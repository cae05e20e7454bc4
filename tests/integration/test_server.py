"""Service plumbing: health, reflection, bearer-token auth, run listing, leases, declared-but-later RPCs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from integration_helpers import Services, error_details, node, start_services, stop_services, workflow

from resumeflow.v1 import (
    history_service_pb2 as hpb,
)
from resumeflow.v1 import (
    run_pb2,
)
from resumeflow.v1 import (
    runner_service_pb2 as rpb,
)
from resumeflow_core.rpc.security import Security

RS = run_pb2.RunStatus


async def test_both_services_answer_health_checks(services: Services) -> None:
    for channel, name in (
        (services.runner_channel, "resumeflow.v1.RunnerService"),
        (services.history_channel, "resumeflow.v1.HistoryService"),
    ):
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", name):
            response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_both_services_list_their_services_through_reflection(services: Services) -> None:
    for channel, name in (
        (services.runner_channel, "resumeflow.v1.RunnerService"),
        (services.history_channel, "resumeflow.v1.HistoryService"),
    ):
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in responses for s in r.list_services_response.service]
        assert name in names and "grpc.health.v1.Health" in names


async def test_reflection_v1_answers_too_and_resolves_the_error_detail_types(services: Services) -> None:
    # grpc-js tools and buf curl ask grpc.reflection.v1 first; its messages are v1alpha's, renamed.
    info = services.history_channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="google.rpc.ErrorInfo"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="google.rpc.BadRequest"),
    ]

    responses = [response async for response in info(iter(requests))]

    names = [s.name for s in responses[0].list_services_response.service]
    assert "resumeflow.v1.HistoryService" in names and "grpc.reflection.v1.ServerReflection" in names
    for response in responses[1:]:
        protos = response.file_descriptor_response.file_descriptor_proto
        names = [descriptor_pb2.FileDescriptorProto.FromString(proto).name for proto in protos]
        assert "google/rpc/error_details.proto" in names, response


@pytest.fixture
async def secured(sqlite_database_url: str) -> AsyncIterator[Services]:
    started = await start_services(sqlite_database_url, Security(auth_token="let-me-in"))
    try:
        yield started
    finally:
        await stop_services(started)


async def test_a_call_without_the_bearer_token_is_unauthenticated(secured: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await secured.history.ListWorkflows(hpb.ListWorkflowsRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await secured.history.ListWorkflows(
            hpb.ListWorkflowsRequest(), metadata=[("authorization", "Bearer wrong")]
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_with_the_token_runs_work_end_to_end_including_runner_to_history(secured: Services) -> None:
    token = [("authorization", "Bearer let-me-in")]
    flow = workflow("guarded", [node("start", "start"), node("end", "end")], [("start", "end")])
    await secured.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=flow), metadata=token)
    messages = [
        m
        async for m in secured.runner.RunWorkflow(
            rpb.RunWorkflowRequest(workflow_id="guarded"), metadata=token
        )
    ]
    assert messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED
    health = health_pb2_grpc.HealthStub(secured.runner_channel)
    assert (
        await health.Check(health_pb2.HealthCheckRequest())
    ).status == health_pb2.HealthCheckResponse.SERVING


async def test_list_runs_filters_by_status_and_pages_newest_first(services: Services) -> None:
    await services.put(
        workflow(
            "flaky",
            [node("start", "start"), node("check", "assert", assertions=["vars.ok"])],
            [("start", "check")],
        )
    )
    run_ids = []
    for ok in (True, False, True, False, True):
        request = rpb.RunWorkflowRequest(workflow_id="flaky")
        request.inputs.update({"ok": ok})
        run_ids.append((await services.run(request))[0].accepted.run.id)

    failed = await services.history.ListRuns(
        hpb.ListRunsRequest(workflow_id="flaky", statuses=[RS.RUN_STATUS_FAILED])
    )
    assert [r.id for r in failed.runs] == [run_ids[3], run_ids[1]]
    seen, token = [], ""
    while True:
        page = await services.history.ListRuns(
            hpb.ListRunsRequest(workflow_id="flaky", page_size=2, page_token=token)
        )
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(reversed(run_ids))


async def test_a_malformed_page_token_is_an_invalid_argument(services: Services) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.ListRuns(hpb.ListRunsRequest(page_token="not-a-token"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in error_details(raised.value)[2]] == ["page_token"]


async def test_a_run_whose_runner_stops_heartbeating_fails_with_runner_lost(services: Services) -> None:
    await services.put(workflow("orphaned", [node("start", "start"), node("end", "end")], [("start", "end")]))
    created = await services.history.CreateRun(
        hpb.CreateRunRequest(
            run=run_pb2.Run(workflow_id="orphaned", workflow_version=1),
            runner_id="runner-that-dies",
            node_ids=["start", "end"],
            lease_duration={"nanos": 1_000_000},
        )
    )
    await asyncio.sleep(0.05)

    await services.history_server.history.expire_leases()

    run = await services.get_run(created.run.id)
    assert run.status == RS.RUN_STATUS_FAILED
    assert run.error_summary.startswith("RUNNER_LOST")
    assert {r.error.code for r in run.node_results} == {"RUNNER_LOST"}
    events = await services.events(created.run.id)
    assert [e.sequence for e in events] == [1, 2]
    assert events[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED


async def test_appending_out_of_sequence_is_aborted_and_stores_nothing(services: Services) -> None:
    await services.put(workflow("gappy", [node("start", "start")], []))
    created = await services.history.CreateRun(
        hpb.CreateRunRequest(
            run=run_pb2.Run(workflow_id="gappy", workflow_version=1), runner_id="r1", node_ids=["start"]
        )
    )
    gap = run_pb2.Event(
        run_id=created.run.id, sequence=5, kind=run_pb2.EVENT_KIND_NODE_STATUS, node_id="start"
    )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.AppendEvents(
            hpb.AppendEventsRequest(run_id=created.run.id, runner_id="r1", events=[gap])
        )

    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert error_details(raised.value)[0] == "SEQUENCE_GAP"
    assert (await services.get_run(created.run.id)).last_sequence == 1


async def test_runs_beyond_the_runners_capacity_wait_for_a_free_slot(sqlite_database_url: str) -> None:
    started = await start_services(sqlite_database_url, max_active_runs=1)
    try:
        flow = workflow(
            "one-at-a-time",
            [node("start", "start"), node("wait", "delay", seconds=0.3), node("end", "end")],
            [("start", "wait"), ("wait", "end")],
        )
        await started.put(flow)
        order: list[tuple[str, str]] = []
        first_accepted = asyncio.Event()

        async def run(name: str) -> None:
            async for message in started.runner.RunWorkflow(
                rpb.RunWorkflowRequest(workflow_id="one-at-a-time")
            ):
                kind = message.WhichOneof("payload")
                if kind in ("accepted", "finished"):
                    order.append((name, kind))
                    first_accepted.set()

        first = asyncio.create_task(run("first"))
        await first_accepted.wait()  # the first run holds the only slot now
        await asyncio.gather(first, run("second"))

        assert order == [
            ("first", "accepted"),
            ("first", "finished"),
            ("second", "accepted"),
            ("second", "finished"),
        ]
    finally:
        await stop_services(started)


async def test_live_watchers_see_exactly_what_a_replay_shows(services: Services) -> None:
    """Appended batches reach watchers re-encoded by the history or, when nothing would change,
    as the runner's own messages; either way a watcher sees what the log holds."""
    await services.put(workflow("watched", [node("start", "start"), node("end", "end")], [("start", "end")]))
    created = await services.history.CreateRun(
        hpb.CreateRunRequest(
            run=run_pb2.Run(workflow_id="watched", workflow_version=1),
            runner_id="r1",
            node_ids=["start", "end"],
        )
    )
    run_id = created.run.id
    live = services.history.WatchRun(hpb.WatchRunRequest(run_id=run_id))
    first = await live.read()
    assert [e.sequence for e in first.events] == [1]  # attached before anything is appended

    def status(sequence: int, node_id: str, node_status: int, nanos: int) -> run_pb2.Event:
        return run_pb2.Event(
            run_id=run_id,
            sequence=sequence,
            time={"seconds": 1_790_000_000, "nanos": nanos},
            kind=run_pb2.EVENT_KIND_NODE_STATUS,
            node_id=node_id,
            node_status=node_status,
            attempt=1,
        )

    NS = run_pb2.NodeStatus
    await services.history.AppendEvents(  # whole microseconds: the runner's messages can be reused
        hpb.AppendEventsRequest(
            run_id=run_id,
            runner_id="r1",
            events=[
                status(2, "start", NS.NODE_STATUS_RUNNING, 1000),
                status(3, "start", NS.NODE_STATUS_SUCCEEDED, 2000),
            ],
        )
    )
    await services.history.AppendEvents(  # nanoseconds the database does not keep
        hpb.AppendEventsRequest(
            run_id=run_id, runner_id="r1", events=[status(4, "end", NS.NODE_STATUS_RUNNING, 123_456_789)]
        )
    )
    await services.history.FinishRun(  # a RUN_FINISHED event whose status the history fills in
        hpb.FinishRunRequest(
            run_id=run_id,
            runner_id="r1",
            status=RS.RUN_STATUS_SUCCEEDED,
            events=[status(5, "end", NS.NODE_STATUS_SUCCEEDED, 3000)],
            event=run_pb2.Event(run_id=run_id, sequence=6, kind=run_pb2.EVENT_KIND_RUN_FINISHED),
        )
    )
    watched = list(first.events)
    while (response := await live.read()) is not grpc.aio.EOF:
        watched += response.events
    replayed = await services.events(run_id)

    assert watched == replayed
    assert [e.sequence for e in replayed] == [1, 2, 3, 4, 5, 6]
    assert replayed[3].time.nanos == 123_456_000
    assert replayed[-1].run_status == RS.RUN_STATUS_SUCCEEDED
