"""The services as separate `resumeflow serve` processes that a test (or `outage.py`) can kill,
restart, freeze and thaw, and the checks that a run came through: its status, a gapless log, and
a stream equal to what is stored."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

CLI = [sys.executable, "-m", "resumeflow_cli", "serve"]
STARTUP_TIMEOUT = 60.0  # seconds; a cold start imports grpc and SQLAlchemy and runs migrations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """One `resumeflow serve history|runner` process, restartable on the same address."""

    which: str
    options: list[str]
    log_path: Path
    address: str = field(default_factory=lambda: f"127.0.0.1:{free_port()}")
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*CLI, self.which, "--listen", self.address, *self.options],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                cwd=self.log_path.parent,
            )

    async def wait_serving(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.process is not None and self.process.poll() is None, self.log_tail()
                try:
                    answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    if time.monotonic() > deadline:
                        raise
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        self.process.kill()
        self.process.wait()

    def log_tail(self, size: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""


class Lab:
    """A history and a runner process on one database, and stubs of both."""

    def __init__(self, workdir: Path, database_url: str, lease_seconds: float) -> None:
        self.history = ServiceProcess("history", ["--database", database_url], workdir / "history.log")
        self.runner = ServiceProcess("runner", [], workdir / "runner.log")
        self.runner.options = ["--history-address", self.history.address]
        self.runner.env = {"RESUMEFLOW_LEASE_SECONDS": str(lease_seconds)}
        self._channels: list[grpc.aio.Channel] = []

    async def start(self) -> None:
        self.history.start()
        self.runner.start()
        await asyncio.gather(self.history.wait_serving(), self.runner.wait_serving())
        history_channel = grpc.aio.insecure_channel(self.history.address)
        runner_channel = grpc.aio.insecure_channel(self.runner.address)
        self._channels = [history_channel, runner_channel]
        self.history_stub = history_service_pb2_grpc.HistoryServiceStub(history_channel)
        self.runner_stub = runner_service_pb2_grpc.RunnerServiceStub(runner_channel)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
        self.runner.close()
        self.history.close()

    def logs(self) -> str:
        return f"--- history ---\n{self.history.log_tail()}\n--- runner ---\n{self.runner.log_tail()}"

    async def put_chain(self, workflow_id: str, count: int, seconds: float) -> None:
        """start → n0 → … → n{count-1} → end, each a delay of `seconds`."""
        names = [f"n{i}" for i in range(count)]
        nodes = [workflow_pb2.Node(id="start", type="start"), workflow_pb2.Node(id="end", type="end")]
        for name in names:
            node = workflow_pb2.Node(id=name, type="delay")
            node.config.update({"seconds": seconds})
            nodes.append(node)
        order = ["start", *names, "end"]
        edges = [workflow_pb2.Edge(source=a, target=b) for a, b in zip(order, order[1:], strict=False)]
        definition = workflow_pb2.Workflow(id=workflow_id, nodes=nodes, edges=edges)
        await self.history_stub.PutWorkflow(hpb.PutWorkflowRequest(workflow=definition), timeout=30)


class StreamReader:
    """Reads a RunWorkflow stream to its end in the background, keeping every message."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.messages: list[Any] = []
        self.error: grpc.aio.AioRpcError | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.call:
                self.messages.append(message)
        except grpc.aio.AioRpcError as error:
            self.error = error

    @property
    def run_id(self) -> str:
        return str(self.messages[0].accepted.run.id)

    @property
    def finished(self) -> rpb.RunFinished | None:
        last = self.messages[-1] if self.messages else None
        return last.finished if last is not None and last.WhichOneof("payload") == "finished" else None

    def node_events(self) -> list[tuple[int, str, int]]:
        return [
            (e.sequence, e.node_id, e.node_status)
            for m in self.messages
            if m.WhichOneof("payload") == "events"
            for e in m.events.events
        ]


async def start_run(lab: Lab, workflow_id: str) -> StreamReader:
    """Start a run and follow its stream; returns once the run is accepted."""
    reader = StreamReader(lab.runner_stub.RunWorkflow(rpb.RunWorkflowRequest(workflow_id=workflow_id)))
    while not reader.messages:
        assert not reader.task.done(), reader.error
        await asyncio.sleep(0.01)
    return reader


async def stored_events(lab: Lab, run_id: str) -> list[run_pb2.Event]:
    """The run's whole log, replayed by WatchRun from the start."""
    call = lab.history_stub.WatchRun(hpb.WatchRunRequest(run_id=run_id, after_sequence=0), timeout=30)
    return [event async for response in call for event in response.events]


@dataclass
class Outcome:
    """What a run looks like afterwards, in the history and in its client's stream."""

    status: str
    events: int
    gapless: bool
    stream_is_store: bool
    streamed_finished: bool

    def __str__(self) -> str:
        return (
            f"{self.status}, {self.events} events, gapless={self.gapless}, "
            f"stream==store={self.stream_is_store}, stream finished={self.streamed_finished}"
        )


async def outcome(lab: Lab, reader: StreamReader) -> Outcome:
    run = (await lab.history_stub.GetRun(hpb.GetRunRequest(run_id=reader.run_id), timeout=30)).run
    events = await stored_events(lab, reader.run_id)
    stored = [
        (e.sequence, e.node_id, e.node_status) for e in events if e.kind == run_pb2.EVENT_KIND_NODE_STATUS
    ]
    streamed = reader.node_events()
    finished = reader.finished
    return Outcome(
        status=run_pb2.RunStatus.Name(run.status),
        events=len(events),
        gapless=[e.sequence for e in events] == list(range(1, len(events) + 1))
        and run.last_sequence == len(events),
        # A finished stream shows all of the log; a broken one a prefix of it, never more.
        stream_is_store=streamed == stored if finished is not None else streamed == stored[: len(streamed)],
        streamed_finished=finished is not None
        and finished.sequence == len(events)
        and finished.run.status == run.status,
    )
