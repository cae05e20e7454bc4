"""Resumeflow in one screen: a run fails on two parallel calls, and a resume finishes it.

    make demo            (or: .venv/bin/python examples/demo.py)

Starts `resumeflow serve` (temporary SQLite) and the demo shop API (examples/demo_api.py, whose
profile and orders endpoints fail their first call), applies examples/shop.yaml, runs it (it fails
on profile and orders), shows the latest failed run, resumes all of its failed nodes, and shows the
run succeed. Every process it starts is stopped when it ends, however it ends.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2, runner_service_pb2_grpc, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

HERE = Path(__file__).resolve().parent
WORKFLOW_FILE = HERE / "shop.yaml"
STARTUP_TIMEOUT = 30.0  # seconds: a cold start imports grpc and SQLAlchemy and runs migrations
CALL_TIMEOUT = 60.0  # seconds, for each RPC (a whole run streams within it)


def say(text: str = "") -> None:
    print(text, flush=True)


def short(run_id: str) -> str:
    return run_id[:8]


def status_name(enum: Any, value: int) -> str:
    return str(enum.Name(value)).split("_STATUS_")[-1]


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def started(args: list[str], log: Path, **options: Any) -> Iterator[subprocess.Popen[str]]:
    """A child process, terminated (then killed) on the way out."""
    with log.open("w") as log_file:
        process = subprocess.Popen(args, stderr=log_file, text=True, **options)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def fail(message: str, log: Path | None = None) -> None:
    if log is not None and log.exists():
        sys.stderr.write(f"--- {log.name} ---\n{log.read_text()[-3000:]}\n")
    raise SystemExit(f"demo: {message}")


def wait_serving(address: str, process: subprocess.Popen[str], log: Path) -> None:
    """Until the gRPC health service at `address` says SERVING (bounded)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                fail(f"resumeflow serve exited with status {process.returncode}", log)
            with contextlib.suppress(grpc.RpcError):
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                fail(f"{address} not serving after {STARTUP_TIMEOUT:g} s", log)
            time.sleep(0.1)


def read_api_url(process: subprocess.Popen[str], log: Path) -> str:
    """The base URL the demo API prints once it accepts requests (bounded)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        fail(f"the demo API did not start (got {line!r})", log)
    return line.split("listening on ", 1)[1].strip()


# --- the workflow file ------------------------------------------------------------------------------


def load_workflow(path: Path) -> workflow_pb2.Workflow:
    """The YAML file format (id, name, nodes, edges) as a Workflow message; durations as "5s" or 5."""
    definition = yaml.safe_load(path.read_text())
    for node in definition.get("nodes", []):
        if isinstance(node.get("timeout"), int | float):
            node["timeout"] = f"{node['timeout']}s"
        for key in ("initial_backoff", "max_backoff"):
            if isinstance((node.get("retry") or {}).get(key), int | float):
                node["retry"][key] = f"{node['retry'][key]}s"
    definition.setdefault("name", definition.get("id", ""))
    return json_format.ParseDict(definition, workflow_pb2.Workflow())


# --- talking to the services ------------------------------------------------------------------------


def run_and_show(runner: Any, request: rpb.RunWorkflowRequest) -> run_pb2.Run:
    """Stream a run, one line per node that reaches a final status; returns the finished run."""
    finished: run_pb2.Run | None = None
    for message in runner.RunWorkflow(request, timeout=CALL_TIMEOUT):
        kind = message.WhichOneof("payload")
        if kind == "accepted":
            run = message.accepted.run
            say(f"  run {short(run.id)} started")
            if message.accepted.restored_node_ids:
                restored = ", ".join(message.accepted.restored_node_ids)
                say(f"    restored from run {short(run.resume_from_run_id)}: {restored}")
        elif kind == "events":
            for event in message.events.events:
                if event.node_status != run_pb2.NODE_STATUS_RUNNING:
                    say(f"    {event.node_id:<8} {status_name(run_pb2.NodeStatus, event.node_status)}")
        elif kind == "finished":
            finished = message.finished.run
    assert finished is not None, "the stream ended without RunFinished"
    failed = f" (failed: {', '.join(finished.failed_node_ids)})" if finished.failed_node_ids else ""
    say(f"  run {short(finished.id)} {status_name(run_pb2.RunStatus, finished.status)}{failed}")
    return finished


def rejection_reason(error: grpc.RpcError) -> str:
    """google.rpc.ErrorInfo.reason of a rejected call (from its grpc-status-details-bin trailer)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    return str(error.code().name)


def show_latest_failed(history: Any, workflow_id: str) -> None:
    try:
        latest = history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id=workflow_id), timeout=10)
    except grpc.RpcError as error:
        say(f"  nothing to resume ({rejection_reason(error)})")
        return
    say(f"  latest failed run {short(latest.run.id)}:")
    for node in latest.failed_nodes:
        message = node.error_message if len(node.error_message) <= 100 else node.error_message[:99] + "…"
        say(f"    {node.node_id:<8} {message}")


def demo(runner_address: str, history_address: str, api_url: str) -> bool:
    with grpc.insecure_channel(runner_address) as rc, grpc.insecure_channel(history_address) as hc:
        runner = runner_service_pb2_grpc.RunnerServiceStub(rc)
        history = history_service_pb2_grpc.HistoryServiceStub(hc)
        environment = run_pb2.Environment(name="demo", values={"api": api_url})

        say(f"\n1. apply {WORKFLOW_FILE.relative_to(HERE.parent)}")
        put = history.PutWorkflow(hpb.PutWorkflowRequest(workflow=load_workflow(WORKFLOW_FILE)), timeout=10)
        workflow_id = put.workflow.id
        say(f"  workflow {workflow_id} v{put.workflow.version}: {len(put.workflow.nodes)} nodes")

        say(f"\n2. run {workflow_id}   (profile and orders fail their first call)")
        run_and_show(runner, rpb.RunWorkflowRequest(workflow_id=workflow_id, environment=environment))

        say(f"\n3. failed {workflow_id}")
        show_latest_failed(history, workflow_id)

        say(f"\n4. resume {workflow_id} --all-failed")
        resume = run_pb2.ResumeSpec(mode=run_pb2.RESUME_MODE_ALL_FAILED)
        final = run_and_show(
            runner, rpb.RunWorkflowRequest(workflow_id=workflow_id, environment=environment, resume=resume)
        )
        if final.status == run_pb2.RUN_STATUS_SUCCEEDED:
            say(f"  summary: {final.variables['summary']}")

        say(f"\n5. failed {workflow_id}")
        show_latest_failed(history, workflow_id)
        return bool(final.status == run_pb2.RUN_STATUS_SUCCEEDED)


def main() -> int:
    # SIGTERM (make interrupted, CI timeouts) unwinds like Ctrl-C, so the children get stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="resumeflow-demo-"))
    runner_address, history_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    serve_log, api_log = workdir / "serve.log", workdir / "demo-api.log"
    serve = [sys.executable, "-m", "resumeflow_cli", "serve", "--listen", runner_address]
    serve += ["--history-address", history_address, "--database", f"sqlite+aiosqlite:///{workdir}/history.db"]
    api = [sys.executable, str(HERE / "demo_api.py"), "--port", "0"]
    try:
        with (
            started(serve, serve_log, stdout=subprocess.DEVNULL) as services,
            started(api, api_log, stdout=subprocess.PIPE) as shop,
        ):
            api_url = read_api_url(shop, api_log)
            wait_serving(history_address, services, serve_log)
            wait_serving(runner_address, services, serve_log)
            say(f"resumeflow serve: runner {runner_address}, history {history_address}")
            say(f"shop API:         {api_url}  (examples/demo_api.py)")
            try:
                ok = demo(runner_address, history_address, api_url)
            except grpc.RpcError as error:
                fail(f"{error.code().name}: {error.details()}", serve_log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say("\ndemo finished: the run failed, was resumed and SUCCEEDED" if ok else "\ndemo FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
