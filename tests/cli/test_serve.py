"""`resumeflow serve` as users start it: a real process, real ports, clear start-up failures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

CLI = [sys.executable, "-m", "resumeflow_cli"]
STARTUP_TIMEOUT = 30.0  # seconds; a cold start imports grpc, SQLAlchemy and runs migrations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(address: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                if (
                    stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                    == health_pb2.HealthCheckResponse.SERVING
                ):
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


def run_cli(args: list[str], cwd: Path, timeout: float = STARTUP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CLI + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy()
    )


def start_serve(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """`resumeflow serve ARGS` in the background."""
    return subprocess.Popen(
        [*CLI, "serve", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then the process's stderr once it exited."""
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    return stderr


def test_serve_starts_both_services_on_embedded_sqlite_and_stops_cleanly(tmp_path: Path) -> None:
    runner, history = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    process = start_serve(["--listen", runner, "--history-address", history], tmp_path)
    try:
        wait_serving(history)
        wait_serving(runner)
        assert (tmp_path / ".resumeflow" / "history.db").exists()
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr


def test_serve_exits_with_one_clear_line_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = run_cli(["serve", "history", "--listen", address], tmp_path)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("resumeflow: cannot listen on " + address)
    assert "Traceback" not in result.stderr


def test_serve_exits_with_one_clear_line_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    result = run_cli(
        ["serve", "history", "--listen", f"127.0.0.1:{free_port()}", "--database", url], tmp_path
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("resumeflow: ") and "database" in last_line


def _token_file(directory: Path, name: str, token: str) -> str:
    path = directory / name
    path.write_text(token + "\n")
    return str(path)


def test_a_runner_without_the_runner_token_history_needs_exits_with_one_clear_line(tmp_path: Path) -> None:
    history = f"127.0.0.1:{free_port()}"
    auth = _token_file(tmp_path, "auth", "client-tok")
    runner_token = _token_file(tmp_path, "runner", "runner-tok")
    process = start_serve(
        ["history", "--listen", history, "--auth-token-file", auth, "--runner-token-file", runner_token],
        tmp_path,
    )
    try:
        wait_serving(history)
        runner = ["serve", "runner", "--listen", f"127.0.0.1:{free_port()}", "--history-address", history]
        wrong = run_cli([*runner, "--auth-token-file", auth, "--runner-token", "not-it"], tmp_path)
        missing = run_cli([*runner, "--auth-token-file", auth], tmp_path)
    finally:
        stop(process)

    for result, reason in ((wrong, "UNAUTHENTICATED"), (missing, "RUNNER_CREDENTIAL_REQUIRED")):
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(
            f"resumeflow: the history service at {history} refuses this runner's writes"
        )
        assert reason in lines[0] and "--runner-token" in lines[0]


def test_serve_all_with_an_auth_token_file_records_runs_and_keeps_the_token_out_of_ps(tmp_path: Path) -> None:
    runner, history = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    token = "file-only-token-7"
    auth = _token_file(tmp_path, "auth", token)
    process = start_serve(
        ["--listen", runner, "--history-address", history, "--auth-token-file", auth], tmp_path
    )
    try:
        wait_serving(history)
        wait_serving(runner)
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        flow = tmp_path / "tiny.yaml"
        flow.write_text(
            "id: tiny\nname: tiny\nnodes: [{id: start, type: start}, {id: end, type: end}]\n"
            "edges: [{source: start, target: end}]\n"
        )
        env = {**os.environ, "RESUMEFLOW_RUNNER_ADDRESS": runner, "RESUMEFLOW_HISTORY_ADDRESS": history}

        def client(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=60, env=env)

        applied = client("apply", str(flow), "--auth-token", token)
        ran = client("run", "tiny", "--auth-token", token)
        refused = client("run", "tiny", "--auth-token", "wrong")
    finally:
        stderr = stop(process)

    assert token.encode() not in command_line
    assert applied.returncode == 0, applied.stderr
    assert ran.returncode == 0 and "SUCCEEDED" in ran.stdout, ran.stderr
    assert refused.returncode == 2 and refused.stderr.startswith("UNAUTHENTICATED: ")
    assert process.returncode == 0, stderr


def test_a_runner_token_equal_to_the_auth_token_is_refused_with_one_line(tmp_path: Path) -> None:
    result = run_cli(
        [
            "serve",
            "history",
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--auth-token",
            "same",
            "--runner-token",
            "same",
        ],
        tmp_path,
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "resumeflow: --runner-token must differ from --auth-token: clients hold that one"
    ]


def test_a_token_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["serve", "history", "--auth-token-file", str(tmp_path / "absent")], tmp_path)

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"resumeflow: cannot read --auth-token-file {tmp_path / 'absent'}")


def test_serve_on_port_0_logs_the_ports_it_bound_and_the_runner_reaches_its_history(tmp_path: Path) -> None:
    process = start_serve(["--listen", "127.0.0.1:0", "--history-address", "127.0.0.1:0"], tmp_path)
    try:
        assert process.stderr is not None
        lines: list[str] = []
        while not any("runner service listening on" in line for line in lines):
            line = process.stderr.readline()
            assert line, f"serve ended before it said where it listens: {lines}"
            lines.append(line)
        text = "".join(lines)
        history_port = re.search(r"history service listening on 127\.0\.0\.1:(\d+)", text)
        runner_port = re.search(
            r"runner service listening on 127\.0\.0\.1:(\d+) \(history at 127\.0\.0\.1:(\d+)\)", text
        )
        assert history_port and runner_port, text
        assert history_port[1] != "0" and runner_port[1] != "0"
        assert runner_port[2] == history_port[1], "the runner calls the history where it really listens"
        wait_serving(f"127.0.0.1:{history_port[1]}")
        wait_serving(f"127.0.0.1:{runner_port[1]}")
        workflow = tmp_path / "tiny.yaml"
        workflow.write_text(
            "id: tiny\n"
            "nodes: [{id: start, type: start}, {id: a, type: noop}]\n"
            "edges: [{source: start, target: a}]\n"
        )
        addresses = [
            "--runner-address",
            f"127.0.0.1:{runner_port[1]}",
            "--history-address",
            f"127.0.0.1:{history_port[1]}",
        ]
        assert (
            run_cli(
                ["apply", str(workflow), "--history-address", f"127.0.0.1:{history_port[1]}"], tmp_path
            ).returncode
            == 0
        )
        ran = run_cli(["run", "tiny", *addresses], tmp_path)
        assert ran.returncode == 0 and "SUCCEEDED" in ran.stdout, ran.stderr
    finally:
        stop(process)
