"""The Node.js client (clients/node) against real services: a proto change that breaks it fails here.

Needs `node` (>= 18) and `npm`: skipped without them, except under CI=true where that is a failure.
`npm ci` runs only when clients/node/node_modules does not match package-lock.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2

NODE_DIR = Path(__file__).resolve().parents[2] / "clients" / "node"
STAMP = NODE_DIR / "node_modules" / ".resumeflow-lock.sha256"
INSTALL_TIMEOUT = 240.0  # seconds, a cold `npm ci`
STARTUP_TIMEOUT = 30.0  # seconds, `resumeflow serve` importing grpc and SQLAlchemy and migrating
DEMO_TIMEOUT = 90.0  # seconds, the whole node demo program

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus

pytestmark = pytest.mark.timeout(INSTALL_TIMEOUT + 120)


# --- node and its packages --------------------------------------------------------------------------


def _missing(what: str) -> None:
    message = f"{what}: the Node.js client cannot be tested"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def node() -> str:
    """The `node` executable, with the client's packages installed as package-lock.json says."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _missing(f"node or npm is not on PATH (node={node}, npm={npm})")
    assert node is not None and npm is not None
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 18:
        _missing(f"node {version} is too old (18 or newer)")
    lock = NODE_DIR / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes() + (NODE_DIR / "package.json").read_bytes()).hexdigest()
    installed = (NODE_DIR / "node_modules" / "@grpc" / "grpc-js" / "package.json").exists()
    if not installed or not STAMP.exists() or STAMP.read_text().strip() != digest:
        result = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
        STAMP.write_text(digest + "\n")
    return node


def test_client_unit_tests_pass(node: str) -> None:
    result = subprocess.run(
        [node, "--test", "test/"], cwd=NODE_DIR, capture_output=True, text=True, timeout=DEMO_TIMEOUT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^# fail 0$", result.stdout, re.MULTILINE), result.stdout


# --- real services ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            assert process.poll() is None, f"resumeflow serve exited:\n{log.read_text()}"
            try:
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            assert time.monotonic() < deadline, f"{address} not serving:\n{log.read_text()}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(runner address, history address) of `resumeflow serve` on free ports and a fresh SQLite."""
    yield from _serve(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The same, requiring the bearer token AUTH_TOKEN, read from a file."""
    data = tmp_path_factory.mktemp("guarded")
    (data / "token").write_text(AUTH_TOKEN + "\n")
    yield from _serve(data, "--auth-token-file", str(data / "token"))


AUTH_TOKEN = "node-client-token"


def _serve(data: Path, *options: str) -> Iterator[tuple[str, str]]:
    runner, history = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    log = data / "serve.log"
    command = [sys.executable, "-m", "resumeflow_cli", "serve", "--listen", runner, *options]
    command += ["--history-address", history, "--database", f"sqlite+aiosqlite:///{data / 'history.db'}"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=data, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_serving(history, process, log)
            wait_serving(runner, process, log)
            yield runner, history
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


# --- a shop API whose profile and orders fail their first call --------------------------------------


def shop_api(httpserver: HTTPServer) -> Counter[str]:
    calls: Counter[str] = Counter()

    def authorized(name: str, body: object) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            calls[name] += 1
            if request.headers.get("Authorization") != "Bearer tok-1":
                return Response('{"error": "bad token"}', status=401, content_type="application/json")
            if calls[name] == 1:
                return Response(f"{name} is down", status=503)
            return Response(json.dumps(body), content_type="application/json")

        return handler

    def login(request: Request) -> Response:
        calls["login"] += 1
        return Response(json.dumps({"token": "tok-1"}), content_type="application/json")

    httpserver.expect_request("/login", method="POST").respond_with_handler(login)
    httpserver.expect_request("/profile").respond_with_handler(authorized("profile", {"name": "Ada"}))
    orders = {"orders": [{"id": 1}, {"id": 2}]}
    httpserver.expect_request("/orders").respond_with_handler(authorized("orders", orders))
    return calls


def shop_workflow(workflow_id: str) -> dict[str, object]:
    http = {"timeout": "5s"}
    auth = {"Authorization": "Bearer {{ vars.token }}"}
    return {
        "id": workflow_id,
        "name": "Node client check",
        "nodes": [
            {"id": "start", "type": "start"},
            {
                "id": "login",
                "type": "http",
                "label": "Log in",
                "retry": {"max_attempts": 2, "initial_backoff": "0.1s"},
                "config": {
                    "method": "POST",
                    "url": "{{ env.api }}/login",
                    "body": {"user": "ada", "tags": ["a", 1, True, None]},
                    "extract": {"token": "response.body.token"},
                },
                **http,
            },
            {
                "id": "profile",
                "type": "http",
                "label": "Fetch profile",
                "config": {
                    "url": "{{ env.api }}/profile",
                    "headers": auth,
                    "extract": {"name": "response.body.name"},
                },
                **http,
            },
            {
                "id": "orders",
                "type": "http",
                "label": "Fetch orders",
                "config": {
                    "url": "{{ env.api }}/orders",
                    "headers": auth,
                    "extract": {"count": "response.body.orders | length"},
                },
                **http,
            },
            {
                "id": "join",
                "type": "set",
                "config": {"values": {"report": "{{ vars.name }}: {{ vars.count }}"}},
            },
            {"id": "check", "type": "assert", "config": {"assertions": ["vars.count == 2"]}},
            {"id": "end", "type": "end"},
        ],
        "edges": [
            {"source": s, "target": t}
            for s, t in [
                ("start", "login"),
                ("login", "profile"),
                ("login", "orders"),
                ("profile", "join"),
                ("orders", "join"),
                ("join", "check"),
                ("check", "end"),
            ]
        ],
    }


def run_demo(
    node: str, services: tuple[str, str], workflow: Path, api: str, mode: str, token: str = ""
) -> str:
    runner, history = services
    command = [node, str(NODE_DIR / "demo.js"), "--workflow", str(workflow), "--env", f"api={api}"]
    command += ["--runner-address", runner, "--history-address", history, "--mode", mode, "--timeout", "30"]
    command += ["--token", token] if token else []
    result = subprocess.run(command, capture_output=True, text=True, timeout=DEMO_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def stored_runs(history: str, workflow_id: str) -> list[run_pb2.Run]:
    """The workflow's runs, oldest first, with their node results."""
    with grpc.insecure_channel(history) as channel:
        stub = history_service_pb2_grpc.HistoryServiceStub(channel)
        runs = stub.ListRuns(hpb.ListRunsRequest(workflow_id=workflow_id), timeout=10).runs
        return [stub.GetRun(hpb.GetRunRequest(run_id=run.id), timeout=10).run for run in reversed(runs)]


def statuses(run: run_pb2.Run) -> dict[str, int]:
    return {result.node_id: result.status for result in run.node_results}


# --- the node demo program --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["all", "single"])
def test_node_demo_runs_fails_shows_a_rejection_and_resumes_to_success(
    node: str, services: tuple[str, str], httpserver: HTTPServer, tmp_path: Path, mode: str
) -> None:
    workflow_id = f"node-client-{mode}"
    calls = shop_api(httpserver)
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(shop_workflow(workflow_id)))

    output = run_demo(node, services, workflow, httpserver.url_for("").rstrip("/"), mode)

    lines = output.splitlines()
    assert lines[0] == f"applied workflow {workflow_id} v1"
    # Statuses are streamed as they happen: RUNNING first, then the outcome.
    for node_id in ("login", "profile", "orders"):
        assert f"  node {node_id:<10} RUNNING" in lines
    first_id = re.match(r"run (\w+) started", lines[1]).group(1)  # type: ignore[union-attr]
    assert f"run {first_id} FAILED failed nodes: orders, profile" in lines
    assert any(re.fullmatch(r"  node orders +FAILED  HTTP_STATUS: .*503.*", line) for line in lines)
    assert "  node join       BLOCKED" in lines
    # The deliberately invalid resume: its google.rpc details, decoded from the trailer.
    assert "invalid resume rejected: INVALID_ARGUMENT reason=INVALID_RESUME: " in output
    assert any(
        line.startswith("  violation resume.start_node_ids") and "no-such-node" in line for line in lines
    ), output
    assert lines[-2:] == [
        "latest failed run: none (NO_FAILED_RUN), nothing left to resume",
        f"workflow {workflow_id} SUCCEEDED",
    ]

    runs = stored_runs(services[1], workflow_id)
    expected_resumes = 1 if mode == "all" else 2  # SINGLE re-runs orders first, then profile
    failed = [RS.RUN_STATUS_FAILED] * expected_resumes
    assert [run.status for run in runs] == failed + [RS.RUN_STATUS_SUCCEEDED]
    assert runs[0].id == first_id
    final = runs[-1]
    assert f"run {final.id} SUCCEEDED" in lines
    assert (final.root_run_id, final.lineage_depth) == (first_id, expected_resumes)
    assert statuses(final)["login"] == NS.NODE_STATUS_RESTORED
    assert statuses(final)["end"] == NS.NODE_STATUS_SUCCEEDED
    assert final.variables["report"] == "Ada: 2"
    assert final.environment.values["api"] == httpserver.url_for("").rstrip("/")
    assert (calls["login"], calls["profile"], calls["orders"]) == (1, 2, 2)
    stored = next(node for node in runs[0].node_results if node.node_id == "login")
    assert stored.variables["token"] == "tok-1"


def test_node_demo_works_against_services_that_require_a_token(
    node: str, guarded: tuple[str, str], httpserver: HTTPServer, tmp_path: Path
) -> None:
    shop_api(httpserver)
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(shop_workflow("node-client-token")))

    output = run_demo(node, guarded, workflow, httpserver.url_for("").rstrip("/"), "all", token=AUTH_TOKEN)

    assert output.splitlines()[-1] == "workflow node-client-token SUCCEEDED"
