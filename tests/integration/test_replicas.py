"""Several history replicas on one PostgreSQL database: a run written through one replica is
watched live through another, told by database notifications rather than found by polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from integration_helpers import node, workflow

import history_service.history as history_module
from history_service.server import HistoryServer, start_history_server
from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc
from resumeflow.v1 import runner_service_pb2 as rpb
from runner_service.server import start_runner_server

WATCH_DEADLINE = 15.0  # seconds; far below the poll interval the test sets


@pytest.fixture
async def replicas(postgres_database_url: str) -> AsyncIterator[tuple[HistoryServer, HistoryServer]]:
    first = await start_history_server("127.0.0.1:0", postgres_database_url)
    second = await start_history_server("127.0.0.1:0", postgres_database_url)
    try:
        yield first, second
    finally:
        await second.stop(0)
        await first.stop(0)


async def test_a_watcher_on_another_replica_follows_a_run_live(
    replicas: tuple[HistoryServer, HistoryServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With polls this slow, only a database notification can bring the events in time.
    monkeypatch.setattr(history_module, "WATCH_POLL_INTERVAL", 600.0)
    monkeypatch.setattr(history_module, "WATCH_SAFETY_INTERVAL", 600.0)
    writer, reader = replicas
    runner = await start_runner_server("127.0.0.1:0", f"127.0.0.1:{writer.port}")
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{writer.port}") as writer_channel,
        grpc.aio.insecure_channel(f"127.0.0.1:{reader.port}") as reader_channel,
        grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}") as runner_channel,
    ):
        await history_service_pb2_grpc.HistoryServiceStub(writer_channel).PutWorkflow(
            hpb.PutWorkflowRequest(
                workflow=workflow(
                    "relay",
                    [node("start", "start"), node("wait", "delay", seconds=0.5), node("end", "end")],
                    [("start", "wait"), ("wait", "end")],
                )
            )
        )
        call = runner_service_pb2_grpc.RunnerServiceStub(runner_channel).RunWorkflow(
            rpb.RunWorkflowRequest(workflow_id="relay")
        )
        run_id = (await call.read()).accepted.run.id
        watch = history_service_pb2_grpc.HistoryServiceStub(reader_channel).WatchRun(
            hpb.WatchRunRequest(run_id=run_id)
        )

        async def follow() -> list[run_pb2.Event]:
            return [event async for response in watch for event in response.events]

        events = await asyncio.wait_for(follow(), WATCH_DEADLINE)
        while await call.read() is not grpc.aio.EOF:
            pass
    await runner.stop(0)

    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].kind == run_pb2.EVENT_KIND_RUN_FINISHED
    assert events[-1].run_status == run_pb2.RUN_STATUS_SUCCEEDED
