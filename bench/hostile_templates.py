"""Measure hostile templates against real services: time, RSS growth, outcome, worst health check.

Starts `resumeflow serve history` and `resumeflow serve runner` as two processes on loopback,
then for each payload: PutWorkflow, and RunWorkflow when the workflow was accepted, while both
services are health-checked every 5 ms. Prints one Markdown row per payload.

    .venv/bin/python bench/hostile_templates.py
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

PAYLOADS = {
    "9 ** (9 ** 7 * 6), constant": "{{ (9 ** (9 ** 7 * 6)) > 1 }}",
    "9 ** (9 ** 7 * 6), over vars": "{{ (vars.nine ** (vars.nine ** 7 * 6)) > 1 }}",
    "'a' * 10**8": "{{ 'a' * 10**8 }}",
    "[1] * 10**9": "{{ [1] * 10**9 }}",
    "range(10**10)|list": "{{ range(10**10)|list }}",
    "nested for loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "'x'.ljust(10**9)": "{{ 'x'.ljust(10**9) }}",
    "'%0999999999d' % 1": "{{ '%0999999999d' % 1 }}",
    "'{:>999999999}'.format(1)": "{{ '{:>999999999}'.format(1) }}",
    "string doubling in a loop": (
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    ),
    "vars.s * vars.n, n = 10**9": "{{ vars.s * vars.n }}",
    "'x'|center(10**9)": "{{ 'x'|center(10**9) }}",
    "[1]|batch(10**9, 'x')|list": "{{ [1]|batch(10**9, 'x')|list }}",
    "(1).to_bytes(10**9, 'big')": "{{ (1).to_bytes(10**9, 'big') }}",
    "output in a loop": "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}",
    "sum of lists": "{{ ([[1]] * 100000)|sum(start=[]) }}",
}
INPUTS = {"nine": 9, "s": "ab", "n": 10**9}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(which: str, listen: str, history: str, database: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "resumeflow_cli", "serve", which, "--listen", listen]
    command += ["--history-address", history, "--database", database]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def hostile(template: str) -> workflow_pb2.Workflow:
    config = struct_pb2.Struct()
    config.update({"values": {"x": template}})
    nodes = [
        workflow_pb2.Node(id="start", type="start"),
        workflow_pb2.Node(id="evil", type="set", config=config),
        workflow_pb2.Node(id="end", type="end"),
    ]
    edges = [workflow_pb2.Edge(source="start", target="evil"), workflow_pb2.Edge(source="evil", target="end")]
    return workflow_pb2.Workflow(id="evil", name="evil", nodes=nodes, edges=edges)


async def worst_health(channels: list[grpc.aio.Channel], stop: asyncio.Event) -> float:
    stubs = [health_pb2_grpc.HealthStub(channel) for channel in channels]
    worst = 0.0
    while not stop.is_set():
        for stub in stubs:
            began = time.perf_counter()
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
            worst = max(worst, time.perf_counter() - began)
        await asyncio.sleep(0.005)
    return worst


async def attack(
    history: history_service_pb2_grpc.HistoryServiceStub,
    runner: runner_service_pb2_grpc.RunnerServiceStub,
    template: str,
) -> str:
    try:
        await history.PutWorkflow(hpb.PutWorkflowRequest(workflow=hostile(template)), timeout=120)
    except grpc.aio.AioRpcError as error:
        return f"PutWorkflow {error.code().name}"
    inputs = struct_pb2.Struct()
    inputs.update(INPUTS)
    messages = [
        m
        async for m in runner.RunWorkflow(
            rpb.RunWorkflowRequest(workflow_id="evil", inputs=inputs), timeout=120
        )
    ]
    run = (await history.GetRun(hpb.GetRunRequest(run_id=messages[0].accepted.run.id))).run
    evil = next(r for r in run.node_results if r.node_id == "evil")
    return f"run FAILED, node {evil.error.code}" if evil.HasField("error") else "run SUCCEEDED"


async def measure() -> None:
    history_address, runner_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as directory:
        database = f"sqlite+aiosqlite:///{directory}/bench.db"
        processes = [
            start("history", history_address, history_address, database),
            start("runner", runner_address, history_address, database),
        ]
        try:
            channels = [grpc.aio.insecure_channel(a) for a in (history_address, runner_address)]
            for channel in channels:
                await asyncio.wait_for(channel.channel_ready(), 30)
            await asyncio.sleep(1)
            history = history_service_pb2_grpc.HistoryServiceStub(channels[0])
            runner = runner_service_pb2_grpc.RunnerServiceStub(channels[1])
            print("| payload | outcome | time | history RSS Δ | runner RSS Δ | worst health check |")
            print("|---|---|---|---|---|---|")
            for name, template in PAYLOADS.items():
                before = [rss_mib(p.pid) for p in processes]
                stop = asyncio.Event()
                health = asyncio.create_task(worst_health(channels, stop))
                began = time.perf_counter()
                outcome = await attack(history, runner, template)
                elapsed = time.perf_counter() - began
                stop.set()
                worst = await health
                after = [rss_mib(p.pid) for p in processes]
                deltas = [f"{b - a:+.1f} MiB" for a, b in zip(before, after, strict=True)]
                cells = [f"`{name}`", outcome, f"{elapsed * 1000:.0f} ms", *deltas, f"{worst * 1000:.0f} ms"]
                print("| " + " | ".join(cells) + " |")
        finally:
            for process in processes:
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(measure())
