"""SIGTERM to running services loses nothing: `resumeflow serve` processes stopped mid-run exit 0,
the run ends FAILED with RUNNER_SHUTDOWN, every event a client was streamed is stored, and after a
restart the default resume finishes the run."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

CLI = [sys.executable, "-m", "resumeflow_cli"]
GRACE = 1.0  # seconds, the services' --shutdown-grace here
STARTUP_TIMEOUT = 30.0  # seconds; a cold start imports grpc, SQLAlchemy and runs migrations
EXIT_TIMEOUT = 30.0  # seconds; a guard against a hang, not a measure of speed
NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus

pytestmark = pytest.mark.timeout(180)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Deployment:
    """`resumeflow serve` processes on fixed loopback ports and one database."""

    database_url: str
    directory: Path
    separate: bool
    grace: float = GRACE
    runner_address: str = ""
    history_address: str = ""

    def __post_init__(self) -> None:
        self.runner_address = f"127.0.0.1:{free_port()}"
        self.history_address = f"127.0.0.1:{free_port()}"
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> None:
        common = ["--history-address", self.history_address, "--shutdown-grace", str(self.grace)]
        if self.separate:
            commands = [
                ["history", "--listen", self.history_address, "--database", self.database_url, *common],
                ["runner", "--listen", self.runner_address, *common],
            ]
        else:
            commands = [["all", "--listen", self.runner_address, "--database", self.database_url, *common]]
        self.processes = [
            subprocess.Popen(
                [*CLI, "serve", *command],
                cwd=self.directory,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=os.environ.copy(),
            )
            for command in commands
        ]
        for address in (self.history_address, self.runner_address):
            wait_serving(address)

    def terminate(self) -> list[float]:
        """SIGTERM every process at once; the seconds each took to exit, once all exited 0."""
        sent = time.monotonic()
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        took = []
        for process in self.processes:
            _, stderr = process.communicate(timeout=EXIT_TIMEOUT)
            took.append(time.monotonic() - sent)
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr, stderr
        self.processes = []
        return took

    def kill(self) -> None:
        for process in self.processes:
            process.kill()
            process.communicate()


def wait_serving(address: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


@pytest.fixture
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    database_url, separate, *grace = request.param
    started = Deployment(str(request.getfixturevalue(database_url)), tmp_path, separate, *grace)
    started.start()
    try:
        yield started
    finally:
        started.kill()


@dataclass
class Stubs:
    runner: runner_service_pb2_grpc.RunnerServiceStub
    history: history_service_pb2_grpc.HistoryServiceStub


@pytest.fixture
async def stubs(deployment: Deployment) -> AsyncIterator[Stubs]:
    async with (
        grpc.aio.insecure_channel(deployment.runner_address) as runner,
        grpc.aio.insecure_channel(deployment.history_address) as history,
    ):
        yield Stubs(
            runner_service_pb2_grpc.RunnerServiceStub(runner),
            history_service_pb2_grpc.HistoryServiceStub(history),
        )


def slow_chain() -> workflow_pb2.Workflow:
    """start → a → b → c → end, delays; b waits `env.wait` seconds (long in the first run)."""
    nodes = [workflow_pb2.Node(id="start", type="start"), workflow_pb2.Node(id="end", type="end")]
    for node_id, seconds in (("a", 0.2), ("b", "{{ env.wait }}"), ("c", 0.2)):
        node = workflow_pb2.Node(id=node_id, type="delay")
        node.config.update({"seconds": seconds})
        nodes.append(node)
    order = ["start", "a", "b", "c", "end"]
    edges = [workflow_pb2.Edge(source=s, target=t) for s, t in itertools.pairwise(order)]
    return workflow_pb2.Workflow(id="slow", name="slow", nodes=nodes, edges=edges)


def environment(wait: float) -> run_pb2.Environment:
    env = run_pb2.Environment()
    env.values["wait"] = str(wait)
    return env


def node_events(messages: Sequence[rpb.RunWorkflowResponse]) -> list[run_pb2.Event]:
    return [e for m in messages if m.WhichOneof("payload") == "events" for e in m.events.events]


async def read_until_running(call: grpc.aio.UnaryStreamCall, node_id: str) -> list[rpb.RunWorkflowResponse]:
    """The messages of a RunWorkflow stream up to the one where `node_id` is RUNNING."""
    messages = [await call.read()]
    while not any(
        (e.node_id, e.node_status) == (node_id, NS.NODE_STATUS_RUNNING) for e in node_events(messages)
    ):
        messages.append(await call.read())
    return messages


both_ways = pytest.mark.parametrize(
    "deployment",
    [
        pytest.param(("sqlite_database_url", True), id="separate-sqlite"),
        pytest.param(("postgres_database_url", True), id="separate-postgresql"),
        pytest.param(("sqlite_database_url", False), id="all-in-one-sqlite"),
    ],
    indirect=True,
)


@both_ways
async def test_sigterm_mid_run_exits_0_records_every_streamed_event_and_the_run_resumes(
    deployment: Deployment, stubs: Stubs
) -> None:
    await stubs.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=slow_chain()))
    call = stubs.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="slow", environment=environment(30)))
    messages = await read_until_running(call, "b")
    run_id = messages[0].accepted.run.id

    took = await asyncio.to_thread(deployment.terminate)
    while (message := await call.read()) is not grpc.aio.EOF:
        messages.append(message)

    assert messages[-1].finished.run.status == RS.RUN_STATUS_FAILED  # streamed to the end
    print(f"SIGTERM → exit: {', '.join(f'{t:.2f}s' for t in took)} (grace {GRACE}s)")
    deployment.start()
    run = (await stubs.history.GetRun(hpb.GetRunRequest(run_id=run_id), timeout=10)).run
    assert run.status == RS.RUN_STATUS_FAILED and "RUNNER_SHUTDOWN" in run.error_summary
    results = {r.node_id: r for r in run.node_results}
    assert (results["b"].status, results["b"].error.code) == (NS.NODE_STATUS_FAILED, "RUNNER_SHUTDOWN")
    assert results["a"].status == NS.NODE_STATUS_SUCCEEDED
    assert results["c"].status == NS.NODE_STATUS_BLOCKED
    watch = stubs.history.WatchRun(hpb.WatchRunRequest(run_id=run_id), timeout=10)
    stored = [e async for response in watch for e in response.events]
    assert [e.sequence for e in stored] == list(range(1, len(stored) + 1))
    by_sequence = {e.sequence: (e.node_id, e.node_status) for e in stored}
    unrecorded = [
        e for e in node_events(messages) if by_sequence.get(e.sequence) != (e.node_id, e.node_status)
    ]
    print(f"streamed {len(node_events(messages))} node events, unrecorded {len(unrecorded)}")
    assert unrecorded == []
    assert messages[-1].finished.sequence == stored[-1].sequence

    resume = rpb.RunWorkflowRequest(
        workflow_id="slow", environment=environment(0), resume=run_pb2.ResumeSpec()
    )
    resumed = [m async for m in stubs.runner.RunWorkflow(resume, timeout=30)]
    assert resumed[0].accepted.run.resume_from_run_id == run_id
    assert resumed[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED
    deployment.terminate()


@pytest.mark.parametrize(
    "deployment", [pytest.param(("sqlite_database_url", False, 60.0), id="all-in-one")], indirect=True
)
async def test_a_second_signal_stops_at_once_without_waiting_for_the_grace(
    deployment: Deployment, stubs: Stubs
) -> None:
    await stubs.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=slow_chain()))
    call = stubs.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="slow", environment=environment(30)))
    await read_until_running(call, "b")
    (process,) = deployment.processes
    deployment.processes = []
    process.send_signal(signal.SIGINT)
    await asyncio.sleep(0.5)  # the graceful stop began: b may run for its grace of 60 s

    process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.to_thread(process.communicate, timeout=EXIT_TIMEOUT)

    assert process.returncode == 1
    assert "second signal: stopping at once" in stderr
    call.cancel()


def test_the_serve_defaults_are_the_services_own() -> None:
    """main.py spells the defaults out (importing the services would slow every command)."""
    import inspect

    from history_service import server as history_server
    from resumeflow_cli.main import serve_command
    from resumeflow_core.limits import DEFAULT_MAX_NODE_OUTPUT_BYTES
    from runner_service.runner import DEFAULT_SHUTDOWN_GRACE

    parameters = inspect.signature(serve_command).parameters
    assert parameters["max_node_output_bytes"].default == DEFAULT_MAX_NODE_OUTPUT_BYTES
    assert parameters["shutdown_grace"].default == DEFAULT_SHUTDOWN_GRACE
    assert history_server.DEFAULT_SHUTDOWN_GRACE == DEFAULT_SHUTDOWN_GRACE
