"""SIGTERM both services mid-run and count the events a client was streamed that were not stored.

    .venv/bin/python bench/sigterm_loss.py [--services-python PYTHON] [--database URL] [--grace S]

Starts `resumeflow serve history` and `resumeflow serve runner` as separate processes (SQLite in a
temporary directory unless `--database`), runs 20 parallel chains of ten 0.3 s delays plus one
60 s node, sends SIGTERM to both 1.5 s in, restarts them and compares the stream with the log.
`--services-python` runs the services of another checkout (a venv whose path holds it).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

CHAINS, STEPS, STEP_SECONDS = 20, 10, 0.3
SIGTERM_AFTER = 1.5  # seconds into the run
EXIT_TIMEOUT = 120.0  # seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


def wide() -> workflow_pb2.Workflow:
    nodes = [workflow_pb2.Node(id="start", type="start"), workflow_pb2.Node(id="end", type="end")]
    edges = []

    def add(node_id: str, seconds: float, parent: str) -> None:
        node = workflow_pb2.Node(id=node_id, type="delay")
        node.config.update({"seconds": seconds})
        nodes.append(node)
        edges.append(workflow_pb2.Edge(source=parent, target=node_id))

    for chain in range(CHAINS):
        parent = "start"
        for step in range(STEPS):
            add(f"c{chain}n{step}", STEP_SECONDS, parent)
            parent = f"c{chain}n{step}"
        edges.append(workflow_pb2.Edge(source=parent, target="end"))
    add("long", 60, "start")
    edges.append(workflow_pb2.Edge(source="long", target="end"))
    return workflow_pb2.Workflow(id="wide", name="wide", nodes=nodes, edges=edges)


class Services:
    def __init__(self, python: str, database: str, grace: str, directory: Path) -> None:
        self.runner, self.history = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        extra = ["--shutdown-grace", grace] if grace else []
        serve = [python, "-m", "resumeflow_cli", "serve"]
        self.commands = [
            [*serve, "history", "--listen", self.history, "--database", database, *extra],
            [*serve, "runner", "--listen", self.runner, "--history-address", self.history, *extra],
        ]
        self.directory = directory
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        with (self.directory / "services.log").open("a") as log:
            self.processes = [
                subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL, stderr=log)
                for command in self.commands
            ]
        wait_serving(self.history)
        wait_serving(self.runner)

    def terminate(self) -> list[str]:
        sent = time.monotonic()
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        exits = []
        for name, process in zip(("history", "runner"), self.processes, strict=True):
            code = process.wait(EXIT_TIMEOUT)
            exits.append(f"{name} exit {code} after {time.monotonic() - sent:.1f}s")
        return exits


async def measure(services: Services) -> None:
    services.start()
    streamed: list[run_pb2.Event] = []
    ending = "the stream ended without RunFinished"
    async with (
        grpc.aio.insecure_channel(services.runner) as runner_channel,
        grpc.aio.insecure_channel(services.history) as history_channel,
    ):
        history = history_service_pb2_grpc.HistoryServiceStub(history_channel)
        await history.PutWorkflow(hpb.PutWorkflowRequest(workflow=wide()))
        runner = runner_service_pb2_grpc.RunnerServiceStub(runner_channel)
        call = runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="wide"))
        run_id = (await call.read()).accepted.run.id

        async def follow() -> None:
            nonlocal ending
            try:
                while (message := await call.read()) is not grpc.aio.EOF:
                    streamed.extend(message.events.events)
                    if message.WhichOneof("payload") == "finished":
                        ending = f"RunFinished {run_pb2.RunStatus.Name(message.finished.run.status)}"
            except grpc.aio.AioRpcError as error:
                ending = f"{error.code().name}: {error.details()}"

        follower = asyncio.create_task(follow())
        await asyncio.sleep(SIGTERM_AFTER)
        exits = await asyncio.to_thread(services.terminate)
        await asyncio.wait_for(follower, 30)
    services.start()
    async with grpc.aio.insecure_channel(services.history) as history_channel:
        history = history_service_pb2_grpc.HistoryServiceStub(history_channel)
        for _ in range(120):  # a run left RUNNING is failed by lease expiry (RUNNER_LOST)
            run = (await history.GetRun(hpb.GetRunRequest(run_id=run_id))).run
            if run.status != run_pb2.RUN_STATUS_RUNNING:
                break
            await asyncio.sleep(0.5)
        watch = history.WatchRun(hpb.WatchRunRequest(run_id=run_id), timeout=30)
        stored = [event async for response in watch for event in response.events]
    services.terminate()
    by_sequence = {e.sequence: (e.node_id, e.node_status) for e in stored}
    unrecorded = [e for e in streamed if by_sequence.get(e.sequence) != (e.node_id, e.node_status)]
    codes: dict[str, int] = {}
    for result in run.node_results:
        if result.error.code:
            codes[result.error.code] = codes.get(result.error.code, 0) + 1
    print("; ".join(exits))
    print(f"client stream: {ending}")
    print(f"run {run_pb2.RunStatus.Name(run.status)}, node error codes {codes}")
    gapless = [e.sequence for e in stored] == list(range(1, len(stored) + 1))
    print(
        f"streamed {len(streamed)} node events, stored {len(stored)} events (gapless: {gapless}), "
        f"streamed but unrecorded: {len(unrecorded)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--services-python", default=sys.executable)
    parser.add_argument("--database", default="", help="default: SQLite in a temporary directory")
    parser.add_argument("--grace", default="", help="--shutdown-grace of both services (default: theirs)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="sigterm-loss-"))
    database = args.database or f"sqlite+aiosqlite:///{directory / 'history.db'}"
    print(f"services' logs: {directory / 'services.log'}")
    asyncio.run(measure(Services(args.services_python, database, args.grace, directory)))


if __name__ == "__main__":
    main()
