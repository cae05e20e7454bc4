"""Starts the services as separate processes, the way users run them, and measures them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

STARTUP_TIMEOUT = 60.0  # seconds for both services to answer health checks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_serving(address: str, process: subprocess.Popen[bytes], timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"service on {address} exited with {process.returncode}")
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time the process's threads have used so far (schedstat: nanoseconds, not 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread that just ended
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


@dataclass
class Services:
    runner_address: str
    history_address: str
    runner: subprocess.Popen[bytes]
    history: subprocess.Popen[bytes]
    database_url: str

    def cpu_seconds(self) -> tuple[float, float]:
        """(runner, history) CPU seconds used so far."""
        return cpu_seconds(self.runner.pid), cpu_seconds(self.history.pid)

    def peak_rss(self) -> tuple[float, float]:
        """(runner, history) peak RSS in MiB."""
        return peak_rss_mb(self.runner.pid), peak_rss_mb(self.history.pid)


@contextlib.contextmanager
def services(database_url: str | None = None) -> Iterator[Services]:
    """Both services as separate `resumeflow serve` processes on free ports."""
    with tempfile.TemporaryDirectory(prefix="resumeflow-bench-") as workdir:
        url = database_url or f"sqlite+aiosqlite:///{workdir}/history.db"
        runner_address = f"127.0.0.1:{free_port()}"
        history_address = f"127.0.0.1:{free_port()}"
        log = open(Path(workdir) / "services.log", "wb")  # noqa: SIM115 - closed below
        command = [sys.executable, "-m", "resumeflow_cli", "serve"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        history = subprocess.Popen(
            [*command, "history", "--listen", history_address, "--database", url],
            stdout=log,
            stderr=log,
            env=env,
            cwd=workdir,
        )
        runner = subprocess.Popen(
            [*command, "runner", "--listen", runner_address, "--history-address", history_address],
            stdout=log,
            stderr=log,
            env=env,
            cwd=workdir,
        )
        try:
            wait_serving(history_address, history)
            wait_serving(runner_address, runner)
            yield Services(runner_address, history_address, runner, history, url)
        except BaseException:
            log.flush()
            sys.stderr.write((Path(workdir) / "services.log").read_text()[-4000:])
            raise
        finally:
            for process in (runner, history):
                process.send_signal(signal.SIGTERM)
            for process in (runner, history):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
            log.close()


@contextlib.contextmanager
def bare_fanout_server() -> Iterator[tuple[str, int]]:
    """bench/bare_fanout.py as a process of its own: (address, pid)."""
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen([sys.executable, str(Path(__file__).parent / "bare_fanout.py"), address])
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=STARTUP_TIMEOUT)
        yield address, process.pid
    finally:
        process.kill()
        process.wait()
