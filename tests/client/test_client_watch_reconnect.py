"""Watching survives dropped streams: it reconnects from the last sequence, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from client_helpers import TcpProxy, addresses, chain_workflow
from integration_helpers import Services

from history_service.server import start_history_server
from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2
from resumeflow_client import (
    Client,
    Event,
    EventKind,
    RetryConfig,
    RunAccepted,
    RunFinished,
    UnavailableError,
)

FAST_RETRY = RetryConfig(initial_backoff=0.02, max_backoff=0.2, max_attempts=20)


@pytest.fixture
async def history_proxy(services: Services) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(services.history_server.port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


@pytest.fixture
async def proxied_client(services: Services, history_proxy: TcpProxy) -> AsyncIterator[Client]:
    runner, _ = addresses(services)
    client = await Client.connect(runner, history_address=f"127.0.0.1:{history_proxy.port}", retry=FAST_RETRY)
    try:
        yield client
    finally:
        await client.close()


async def started_slow_run(client: Client, steps: int = 12, seconds: float = 0.03) -> str:
    await client.apply_workflow(chain_workflow("chain", steps, seconds))
    handle = client.run("chain")
    accepted = await handle.start()
    await handle.aclose()  # the run goes on without a follower
    return accepted.run.id


def assert_gapless_to_the_finish(events: list[Event]) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].kind == EventKind.RUN_FINISHED


async def test_cut_connections_are_reopened_from_the_last_sequence(
    proxied_client: Client, history_proxy: TcpProxy
) -> None:
    run_id = await started_slow_run(proxied_client)
    events: list[Event] = []

    async for event in proxied_client.watch(run_id):
        events.append(event)
        if event.sequence in (3, 9, 15):
            history_proxy.cut()

    assert_gapless_to_the_finish(events)
    assert history_proxy.connections >= 4


async def test_watching_a_finished_run_from_its_last_sequence_ends_at_once(
    proxied_client: Client, history_proxy: TcpProxy
) -> None:
    run_id = await started_slow_run(proxied_client, steps=2, seconds=0)
    finished = [e async for e in proxied_client.watch(run_id)]

    again = await asyncio.wait_for(
        _collect(proxied_client.watch(run_id, after_sequence=finished[-1].sequence)), timeout=5
    )

    assert again == []
    assert history_proxy.connections == 1  # no reconnect: an empty, clean end is the answer


async def _collect(events: AsyncIterator[Event]) -> list[Event]:
    return [event async for event in events]


async def test_a_history_service_that_is_away_for_a_while_is_waited_for(
    proxied_client: Client, history_proxy: TcpProxy
) -> None:
    run_id = await started_slow_run(proxied_client)
    events: list[Event] = []

    async def outage() -> None:
        await history_proxy.stop()
        await asyncio.sleep(0.5)
        await history_proxy.start()

    async for event in proxied_client.watch(run_id):
        events.append(event)
        if event.sequence == 4:
            asyncio.get_running_loop().create_task(outage())

    assert_gapless_to_the_finish(events)


async def test_a_restarted_history_service_on_the_same_port_is_followed_again(
    services: Services, sqlite_database_url: str
) -> None:
    runner, history = addresses(services)
    async with await Client.connect(runner, history_address=history, retry=FAST_RETRY) as client:
        run_id = await started_slow_run(client, steps=10, seconds=0.05)
        events: list[Event] = []
        async for event in client.watch(run_id):
            events.append(event)
            if event.sequence == 5:
                await services.history_server.stop(0)
                # The fixture's teardown stops whichever history server is current.
                services.history_server = await start_history_server(history, sqlite_database_url)

    assert_gapless_to_the_finish(events)


async def test_a_service_that_stays_away_ends_the_watch_with_unavailable(
    services: Services, history_proxy: TcpProxy
) -> None:
    runner, _ = addresses(services)
    retry = RetryConfig(initial_backoff=0.01, max_backoff=0.05, max_attempts=3)
    async with await Client.connect(
        runner, history_address=f"127.0.0.1:{history_proxy.port}", retry=retry
    ) as client:
        run_id = await started_slow_run(client, steps=20, seconds=0.05)
        watch = client.watch(run_id)
        first = await watch.__anext__()
        await history_proxy.stop()
        started = time.monotonic()

        with pytest.raises(UnavailableError):
            async for _ in watch:
                pass

    assert first.sequence == 1 and time.monotonic() - started < 5


async def test_a_run_handle_follows_the_history_when_the_runner_stream_is_cut(services: Services) -> None:
    proxy = TcpProxy(services.runner_server.port)
    await proxy.start()
    _, history = addresses(services)
    try:
        async with await Client.connect(
            f"127.0.0.1:{proxy.port}", history_address=history, retry=FAST_RETRY
        ) as client:
            await client.apply_workflow(chain_workflow("chain", 10, 0.03))
            handle = client.run("chain")
            updates = []
            async for update in handle:
                updates.append(update)
                if isinstance(update, Event) and update.sequence == 6:
                    proxy.cut()
    finally:
        await proxy.close()

    assert isinstance(updates[0], RunAccepted) and isinstance(updates[-1], RunFinished)
    sequences = [u.sequence for u in updates[1:-1]]  # type: ignore[union-attr]
    assert sequences == list(range(2, updates[-1].sequence))
    assert updates[-1].run.status.name == "SUCCEEDED" and updates[-1].run.node_results == ()


# --- against a tiny history service that replays more than asked -----------------------------------


class FlakyHistory(history_service_pb2_grpc.HistoryServiceServicer):
    """Drops the first stream after three events; then replays from one event earlier than asked."""

    def __init__(self) -> None:
        self.after_sequences: list[int] = []

    async def WatchRun(
        self, request: hpb.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[hpb.WatchRunResponse]:
        self.after_sequences.append(request.after_sequence)
        if len(self.after_sequences) == 1:
            yield hpb.WatchRunResponse(events=[event(1), event(2)])
            yield hpb.WatchRunResponse(events=[event(3)])
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        start = max(1, request.after_sequence - 1)
        yield hpb.WatchRunResponse(events=[event(s) for s in range(start, 6)])
        yield hpb.WatchRunResponse(events=[event(6, run_pb2.EVENT_KIND_RUN_FINISHED)])


def event(sequence: int, kind: int = run_pb2.EVENT_KIND_NODE_STATUS) -> run_pb2.Event:
    return run_pb2.Event(run_id="r", sequence=sequence, kind=kind)  # type: ignore[arg-type]


async def test_a_reconnect_asks_from_the_last_sequence_and_drops_replayed_events() -> None:
    history = FlakyHistory()
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    history_service_pb2_grpc.add_HistoryServiceServicer_to_server(history, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with await Client.connect(
            "127.0.0.1:1", history_address=f"127.0.0.1:{port}", retry=FAST_RETRY
        ) as client:
            events = [e async for e in client.watch("r")]
    finally:
        await server.stop(0)

    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6]
    assert history.after_sequences == [0, 3]
