"""The benchmark scenarios of issue 5; each returns named figures (lists of samples) and checks
that what it measured really happened (every event persisted and streamed, no gaps)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import bare_fanout
import grpc
import harness
from grpc_health.v1 import health_pb2, health_pb2_grpc
from workflows import grid, linear, wide

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

SUCCEEDED, FAILED = run_pb2.RUN_STATUS_SUCCEEDED, run_pb2.RUN_STATUS_FAILED
_ids = itertools.count()
WARMUP_RUNS = 50


@dataclass
class Figure:
    """One measured quantity: its samples, unit, and the target it is held to (if any)."""

    name: str
    unit: str
    samples: list[float] = field(default_factory=list)
    target: str = ""
    """E.g. '<= 1.0'; checked against the median."""

    def meets(self) -> bool | None:
        if not self.target or not self.samples:
            return None
        op, bound = self.target.split()
        median = sorted(self.samples)[len(self.samples) // 2]
        return median <= float(bound) if op == "<=" else median >= float(bound)


class Client:
    """Stubs of both services over aio channels."""

    def __init__(self, runner_address: str, history_address: str) -> None:
        self.history_address = history_address
        self.runner_channel = grpc.aio.insecure_channel(runner_address)
        self.history_channel = grpc.aio.insecure_channel(history_address)
        self.runner = runner_service_pb2_grpc.RunnerServiceStub(self.runner_channel)
        self.history = history_service_pb2_grpc.HistoryServiceStub(self.history_channel)

    async def close(self) -> None:
        await self.runner_channel.close()
        await self.history_channel.close()

    async def put(self, workflow: workflow_pb2.Workflow) -> None:
        await self.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=workflow))

    async def run(self, request: rpb.RunWorkflowRequest) -> tuple[float, list[rpb.RunWorkflowResponse]]:
        """Seconds from the call to RunFinished, and every message of the stream."""
        started = time.perf_counter()
        messages = [message async for message in self.runner.RunWorkflow(request)]
        return time.perf_counter() - started, messages


def _median(values: Sequence[float]) -> float:
    return sorted(values)[len(values) // 2]


async def _check_persisted(client: Client, run_id: str, expected_events: int) -> None:
    """Every event is in the log, sequences 1…n without gaps."""
    call = client.history.WatchRun(hpb.WatchRunRequest(run_id=run_id))
    sequences = [event.sequence async for response in call for event in response.events]
    if sequences != list(range(1, expected_events + 1)):
        raise AssertionError(
            f"run {run_id}: {len(sequences)} events stored, {expected_events} expected, or a gap"
        )


# --- 1. per-node overhead --------------------------------------------------------------------------


async def bare_round_trip(client: Client, calls: int) -> list[float]:
    """Seconds of one grpc.aio unary round trip (a health check) on this machine."""
    stub = health_pb2_grpc.HealthStub(client.runner_channel)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await stub.Check(health_pb2.HealthCheckRequest())
        samples.append(time.perf_counter() - started)
    return samples


async def per_node_overhead(client: Client, repetitions: int, nodes: int, prefix: str = "") -> list[Figure]:
    targets = {"linear": "<= 1.0", "wide": "<= 0.5", "grid": "<= 0.5"}
    layers = max(1, nodes // 100)
    shapes = {
        "linear": linear(f"linear-{next(_ids)}", nodes),
        "wide": wide(f"wide-{next(_ids)}", nodes),
        "grid": grid(f"grid-{next(_ids)}", layers=layers, width=min(100, nodes - 2)),
    }
    rtt = await bare_round_trip(client, 300)
    figures = []
    for shape, workflow in shapes.items():
        await client.put(workflow)
        node_count = len(workflow.nodes)
        wall = Figure(
            f"{prefix}{shape}: RunWorkflow → RunFinished ({node_count} nodes)",
            "s",
            target=targets[shape] if nodes >= 1000 else "",
        )
        for _ in range(repetitions):
            seconds, messages = await client.run(rpb.RunWorkflowRequest(workflow_id=workflow.id))
            finished = messages[-1].finished.run
            streamed = sum(len(m.events.events) for m in messages if m.WhichOneof("payload") == "events")
            if finished.status != SUCCEEDED or streamed != 2 * node_count:
                raise AssertionError(f"{shape}: status {finished.status}, {streamed} events streamed")
            await _check_persisted(client, finished.id, 2 * node_count + 2)
            wall.samples.append(seconds)
        per_node = Figure(
            f"{prefix}{shape}: per-node overhead", "ms", [s / node_count * 1e3 for s in wall.samples]
        )
        ratio = Figure(
            f"{prefix}{shape}: per-node overhead / bare round trip",
            "×",
            [s / node_count / _median(rtt) for s in wall.samples],
        )
        figures += [wall, per_node, ratio]
    figures.insert(0, Figure(f"{prefix}bare grpc.aio unary round trip", "ms", [s * 1e3 for s in rtt]))
    return figures


# --- 0. fresh run start ------------------------------------------------------------------------------


async def fresh_run_start(
    client: Client, repetitions: int, sizes: Sequence[int], rtt: Sequence[float] | None = None
) -> list[Figure]:
    """RunWorkflow call → the first node RUNNING on the call's own stream, for linear workflows of
    each size; each measured run is followed to its end (and checked stored) before the next."""
    rtt = list(rtt) if rtt is not None else await bare_round_trip(client, 300)
    figures = [Figure("bare grpc.aio unary round trip", "ms", [s * 1e3 for s in rtt])]
    ratios: dict[int, Figure] = {}
    for nodes in sizes:
        workflow = linear(f"fresh-{next(_ids)}", nodes)
        await client.put(workflow)
        await _first_running(client, workflow.id, nodes)  # warm: the workflow's plan is cached
        accepted = Figure(f"{nodes} nodes: RunWorkflow call → RunAccepted", "ms")
        running = Figure(f"{nodes} nodes: RunWorkflow call → first node RUNNING", "ms")
        ratio = Figure(
            f"{nodes} nodes: first node RUNNING / bare round trip",
            "×",
            target="<= 10" if nodes >= 1000 else "",
        )
        for _ in range(repetitions):
            to_accepted, to_running = await _first_running(client, workflow.id, nodes)
            accepted.samples.append(to_accepted * 1e3)
            running.samples.append(to_running * 1e3)
            ratio.samples.append(to_running / _median(rtt))
        ratios[nodes] = ratio
        figures += [accepted, running, ratio]
    smallest, largest = min(ratios), max(ratios)
    if largest > smallest:
        figures.append(
            Figure(
                f"first node RUNNING: {largest} nodes / {smallest} nodes",
                "×",
                [_median(ratios[largest].samples) / _median(ratios[smallest].samples)],
                target="<= 1.5",
            )
        )
    return figures


async def _first_running(client: Client, workflow_id: str, nodes: int) -> tuple[float, float]:
    """Seconds from the call to RunAccepted and to the first RUNNING event; the run is followed to
    a successful end and its log checked complete."""
    request = rpb.RunWorkflowRequest(workflow_id=workflow_id)
    to_accepted, to_running, finished = await _time_to_first_running(client, request)
    if finished is None or finished.status != SUCCEEDED or not to_running:
        raise AssertionError(f"fresh run of {workflow_id}: {finished}")
    await _check_persisted(client, finished.id, 2 * nodes + 2)
    return to_accepted, to_running


# --- 2. resume start -------------------------------------------------------------------------------


async def resume_start(
    client: Client, repetitions: int, depths: Sequence[int], layers: int = 10
) -> list[Figure]:
    """A layered workflow failing at one node of its last layer, resumed again and again."""
    width = 100
    failing = f"l{layers - 1}c{width // 2}"
    workflow = grid(f"resume-{next(_ids)}", layers=layers, width=width, failing=failing, fail_when="yes")
    await client.put(workflow)
    environment = run_pb2.Environment(values={"fail": "yes"})
    _, messages = await client.run(rpb.RunWorkflowRequest(workflow_id=workflow.id, environment=environment))
    source = messages[-1].finished.run
    if source.status != FAILED or list(source.failed_node_ids) != [failing]:
        raise AssertionError(f"the first run should fail at {failing}: {source.failed_node_ids}")
    figures = []
    depth = 0
    for target in depths:
        while depth < target - 1:  # build the lineage up to just below the target depth
            source = (await _resume(client, workflow.id, source.id, environment))[2]
            depth += 1
        accepted = Figure(f"depth {target}: resume call → RunAccepted", "ms", target="")
        first_running = Figure(
            f"depth {target}: resume call → first re-run node RUNNING", "ms", target="<= 50"
        )
        lineage = Figure(f"depth {target}: GetLineageContext ({len(workflow.nodes)} nodes)", "ms")
        resumed = source
        for _ in range(repetitions):
            to_accepted, to_running, resumed = await _resume(client, workflow.id, source.id, environment)
            if resumed.lineage_depth != target:
                raise AssertionError(f"expected depth {target}, got {resumed.lineage_depth}")
            accepted.samples.append(to_accepted * 1e3)
            first_running.samples.append(to_running * 1e3)
            started = time.perf_counter()
            context = await client.history.GetLineageContext(hpb.GetLineageContextRequest(run_id=resumed.id))
            lineage.samples.append((time.perf_counter() - started) * 1e3)
            if len(context.lineage) != target + 1 or len(context.node_results) != len(workflow.nodes):
                raise AssertionError("lineage context incomplete")
        source, depth = resumed, target
        figures += [accepted, first_running, lineage]
    return figures


async def _resume(
    client: Client, workflow_id: str, source_id: str, environment: run_pb2.Environment
) -> tuple[float, float, run_pb2.Run]:
    request = rpb.RunWorkflowRequest(
        workflow_id=workflow_id, environment=environment, resume=run_pb2.ResumeSpec(source_run_id=source_id)
    )
    to_accepted, to_running, finished = await _time_to_first_running(client, request)
    assert finished is not None and finished.status == FAILED
    return to_accepted, to_running, finished


async def _time_to_first_running(
    client: Client, request: rpb.RunWorkflowRequest
) -> tuple[float, float, run_pb2.Run | None]:
    """Seconds from the call to RunAccepted and to the first RUNNING event, and the finished run,
    followed to its end."""
    started = time.perf_counter()
    to_accepted = to_running = 0.0
    finished = None
    async for message in client.runner.RunWorkflow(request):
        kind = message.WhichOneof("payload")
        if kind == "accepted":
            to_accepted = time.perf_counter() - started
        elif kind == "events" and not to_running:
            if any(e.node_status == run_pb2.NODE_STATUS_RUNNING for e in message.events.events):
                to_running = time.perf_counter() - started
        elif kind == "finished":
            finished = message.finished.run
    return to_accepted, to_running, finished


# --- 3. watch fan-out ------------------------------------------------------------------------------


async def watch_fan_out(
    client: Client,
    repetitions: int,
    watchers: int,
    nodes: int,
    service_cpu: Callable[[], tuple[float, float]] | None = None,
) -> list[Figure]:
    """`watchers` WatchRun subscribers on one run whose body starts after a gate delay, so every
    subscriber is attached before the measured events are created.

    With `service_cpu` ((runner, history) CPU seconds so far), also reports the CPU that the
    services and this process used while the run's body was streamed, beside its wall time:
    what bounds the lag on a machine of few cores.
    """
    layers = max(1, (nodes - 3) // 100)
    body = grid(f"fanout-{next(_ids)}", layers=layers, width=min(100, nodes - 3))
    gate = workflow_pb2.Node(id="gate", type="delay")
    gate.config.update({"seconds": 4.0})  # 200 watchers attach first, even on a loaded machine
    body.nodes.append(gate)
    for edge in body.edges:
        if edge.source == "start":
            edge.source = "gate"
    body.edges.append(workflow_pb2.Edge(source="start", target="gate"))
    await client.put(body)
    channels = [grpc.aio.insecure_channel(client.history_address) for _ in range(4)]
    stubs = [history_service_pb2_grpc.HistoryServiceStub(c) for c in channels]
    prefix = f"{watchers} watcher{'s' if watchers > 1 else ''}: "
    p50, p99, gaps = (
        Figure(f"{prefix}p50 lag, event creation → receipt", "ms"),
        Figure(f"{prefix}p99 lag, event creation → receipt", "ms", target="<= 100" if watchers > 1 else ""),
        Figure(f"{prefix}watchers with a gap, duplicate or missing event", "count", target="<= 0"),
    )
    body_wall = Figure(f"{prefix}wall time, first body event → last receipt", "ms")
    body_cpu = [
        Figure(f"{prefix}CPU, all attached → last receipt: {name}", "ms")
        for name in ("runner", "history", "watchers' process")
    ]
    try:
        for _ in range(repetitions):
            run_call = client.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id=body.id))
            run_id = (await run_call.read()).accepted.run.id
            attached: list[float] = []
            cpu_before: list[tuple[float, ...]] = []

            # When the last watcher is attached, before the body starts: the CPU baseline.
            on_attached = functools.partial(_cpu_snapshot, attached, watchers, service_cpu, cpu_before)
            with _collector_paused():
                results = await asyncio.gather(
                    *(_watch(stubs[i % len(stubs)], run_id, attached, on_attached) for i in range(watchers)),
                    _drain(run_call),
                )
                cpu_after = (*service_cpu(), _own_cpu()) if service_cpu is not None else ()
            streams = [_received_events(received) for received in results[:-1]]
            all_attached = max(attached)
            if not any(created > all_attached for created, _, _ in streams[0]):
                # The last watcher attached after the body ran (a loaded machine): nothing to time.
                print(f"{prefix}watchers attached after the run's body: repetition not measured")
                continue
            if cpu_before and cpu_after:
                for figure, before, after in zip(body_cpu, cpu_before[0], cpu_after, strict=True):
                    figure.samples.append((after - before) * 1e3)
                first_body_event = min(created for created, _, _ in streams[0] if created > all_attached)
                last_receipt = max(stream[-1][1] for stream in streams)
                body_wall.samples.append((last_receipt - first_body_event) * 1e3)
            lags = [
                (received - created) * 1e3
                for stream in streams
                for created, received, _ in stream
                if created > all_attached
            ]
            expected = list(range(1, len(streams[0]) + 1))
            gaps.samples.append(sum(1 for s in streams if [seq for _, _, seq in s] != expected))
            if len(expected) != 2 * len(body.nodes) + 2:
                raise AssertionError(f"watchers saw {len(expected)} events")
            lags.sort()
            p50.samples.append(lags[len(lags) // 2])
            p99.samples.append(lags[int(len(lags) * 0.99)])
    finally:
        for channel in channels:
            await channel.close()
    return [p50, p99, gaps] + ([body_wall, *body_cpu] if service_cpu is not None else [])


async def bare_fan_out(repetitions: int, streams: int, size: int) -> list[Figure]:
    """gRPC's own cost of what scenario 3 does per batch: one `size`-byte message to each of
    `streams` streams, from a bare grpc.aio server in a process of its own (bench/bare_fanout.py)."""
    label = f"bare grpc.aio, one {size // 1024} KiB message to each of {streams} streams"
    wall = Figure(f"{label}: wall", "ms")
    sender = Figure(f"{label}: CPU of the sender", "ms")
    receivers = Figure(f"{label}: CPU of the receivers' process", "ms")
    with harness.bare_fanout_server() as (address, pid):
        channels = [grpc.aio.insecure_channel(address) for _ in range(4)]
        try:
            for _ in range(repetitions):
                fans = [channel.unary_stream(f"/{bare_fanout.SERVICE}/Fan") for channel in channels]
                calls = [fans[i % len(fans)](str(size).encode()) for i in range(streams)]
                reads = [asyncio.ensure_future(_drain(call)) for call in calls]
                await asyncio.sleep(0.5)  # every stream open and waiting on the server
                with _collector_paused():
                    before = harness.cpu_seconds(pid), _own_cpu()
                    started = time.perf_counter()
                    await channels[0].unary_unary(f"/{bare_fanout.SERVICE}/Go")(b"")
                    await asyncio.gather(*reads)
                    wall.samples.append((time.perf_counter() - started) * 1e3)
                    sender.samples.append((harness.cpu_seconds(pid) - before[0]) * 1e3)
                    receivers.samples.append((_own_cpu() - before[1]) * 1e3)
        finally:
            for channel in channels:
                await channel.close()
    return [wall, sender, receivers]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection in this (measuring) process while it times receipts, as `timeit`
    does: a full pass over what 200 watchers hold takes tens of milliseconds, which would show
    up as the services' lag. Collected before and after instead."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def _cpu_snapshot(
    attached: list[float],
    watchers: int,
    service_cpu: Callable[[], tuple[float, float]] | None,
    into: list[tuple[float, ...]],
) -> None:
    if len(attached) == watchers and service_cpu is not None:
        into.append((*service_cpu(), _own_cpu()))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _watch(
    stub: history_service_pb2_grpc.HistoryServiceStub,
    run_id: str,
    attached: list[float],
    on_attached: Callable[[], None],
) -> list[tuple[float, hpb.WatchRunResponse]]:
    """Every message with its receipt time (wall-clock seconds).

    Messages are only timestamped while the run streams; reading their fields waits until the
    end (`_received_events`), so the client's own Python work does not show up as lag.
    """
    received: list[tuple[float, hpb.WatchRunResponse]] = []
    async for response in stub.WatchRun(hpb.WatchRunRequest(run_id=run_id)):
        received.append((time.time(), response))
        if len(received) == 1:
            attached.append(received[0][0])
            on_attached()
    return received


def _received_events(received: list[tuple[float, hpb.WatchRunResponse]]) -> list[tuple[float, float, int]]:
    """(creation time, receipt time, sequence) of every event received."""
    return [
        (event.time.ToNanoseconds() / 1e9, now, event.sequence)
        for now, response in received
        for event in response.events
    ]


async def _drain(call: grpc.aio.UnaryStreamCall) -> None:
    while await call.read() is not grpc.aio.EOF:
        pass


# --- 4. concurrent runs ----------------------------------------------------------------------------


async def concurrent_runs(client: Client, repetitions: int, batches: Sequence[int]) -> list[Figure]:
    workflow = linear(f"ten-{next(_ids)}", 10)
    await client.put(workflow)
    # Warm up first (connections, caches, the database file): the figures are steady-state ones.
    await asyncio.gather(
        *(client.run(rpb.RunWorkflowRequest(workflow_id=workflow.id)) for _ in range(WARMUP_RUNS))
    )
    figures = []
    for count in batches:
        figure = Figure(f"{count} concurrent 10-node runs: throughput", "runs/s", target=">= 100")
        for _ in range(repetitions):
            started = time.perf_counter()
            outcomes = await asyncio.gather(
                *(client.run(rpb.RunWorkflowRequest(workflow_id=workflow.id)) for _ in range(count))
            )
            seconds = time.perf_counter() - started
            if any(messages[-1].finished.run.status != SUCCEEDED for _, messages in outcomes):
                raise AssertionError("a concurrent run did not succeed")
            figure.samples.append(count / seconds)
        figures.append(figure)
    return figures
