"""Resumeflow in one screen, with the real `resumeflow` command: a run fails, a resume finishes it.

    make demo            (or: .venv/bin/python examples/demo.py)

Starts `resumeflow serve` (free local ports, a temporary SQLite database) and the demo shop API
(examples/demo_api.py, whose profile and orders endpoints fail their first call), then types what a
newcomer would, printing each command line before its output:

    resumeflow apply examples/shop.yaml
    resumeflow run shop --env-var api=URL      exits 1: profile and orders fail
    resumeflow failed shop                     the latest failed run and its failed nodes
    resumeflow resume shop --all-failed        exits 0: both re-run, the rest is restored
    resumeflow show RUN                        where each node's result came from
    resumeflow failed shop                     nothing left to resume

The service addresses travel in RESUMEFLOW_RUNNER_ADDRESS / RESUMEFLOW_HISTORY_ADDRESS, as a user
would export them. To fit one screen the output is abridged: a node's RUNNING lines and the run's
error summary (which repeats the node errors above it) are left out, and long lines are wrapped.
A step that exits or answers unexpectedly stops the demo with a message saying which. Every process
it starts is stopped when it ends, however it ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKFLOW_FILE = HERE / "shop.yaml"
STARTUP_TIMEOUT = 30.0  # seconds: a cold start imports grpc and SQLAlchemy and runs migrations
STEP_TIMEOUT = 60.0  # seconds for one command, a whole run included
WIDTH = 120  # columns long lines are wrapped at when not printing to a terminal
TABLE_COMMANDS = frozenset({"failed", "show", "runs", "plan"})
WHOLE_LINES = 1000  # COLUMNS for the other commands

RUN_STARTED = re.compile(r"^Run (\w+) of ")
LEFT_OUT = (
    re.compile(r"^  \S+ +RUNNING\b"),  # a node's RUNNING line; its final status follows
    re.compile(r"^(Error: |  )\d+ nodes? failed: "),  # the error summary repeats the node errors
)


def say(text: str = "") -> None:
    print(text, flush=True)


def bold(text: str) -> str:
    return f"\033[1m{text}\033[0m" if sys.stdout.isatty() else text


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


class DemoError(Exception):
    """A step misbehaved; the message says which and how."""


def wait_serving(address: str, process: subprocess.Popen[str]) -> None:
    """Until the gRPC health service at `address` says SERVING (bounded)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if process.poll() is not None:
                raise DemoError(f"resumeflow serve exited with status {process.returncode}")
            with contextlib.suppress(grpc.RpcError):
                response = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            if time.monotonic() > deadline:
                raise DemoError(f"{address} not serving after {STARTUP_TIMEOUT:g} s")
            time.sleep(0.1)


def read_api_url(process: subprocess.Popen[str]) -> str:
    """The base URL the demo API prints once it accepts requests (bounded)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        raise DemoError(f"the demo API did not start (it printed {line!r})")
    return line.split("listening on ", 1)[1].strip()


# --- the commands -----------------------------------------------------------------------------------


class Shell:
    """Runs `resumeflow` commands as typed at a prompt, showing each command line and its output."""

    def __init__(self, environment: dict[str, str], width: int) -> None:
        self._environment = environment
        self._width = width

    def __call__(self, *args: str, exit_code: int = 0, expect: str = "") -> str:
        """Run `resumeflow ARGS…`; its output, after checking its exit code and that it says `expect`."""
        command = shlex.join(["resumeflow", *args])
        say(bold(f"$ {command}"))
        # Commands that print tables lay them out for the demo's width; the others print lines
        # whole, for the filters below, and the demo wraps them.
        columns = self._width if args[0] in TABLE_COMMANDS else WHOLE_LINES
        try:
            done = subprocess.run(
                [sys.executable, "-m", "resumeflow_cli", *args],
                cwd=ROOT,
                env=self._environment | {"COLUMNS": str(columns)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=STEP_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"`{command}` took more than {STEP_TIMEOUT:g} s") from None
        for line in done.stdout.splitlines():
            if not any(pattern.match(line) for pattern in LEFT_OUT):
                say(self._wrap(line.rstrip()))
        if done.returncode != exit_code:
            raise DemoError(f"`{command}` exited with status {done.returncode}, expected {exit_code}")
        if expect not in done.stdout:
            raise DemoError(f"`{command}` did not print {expect!r}")
        return done.stdout

    def _wrap(self, line: str) -> str:
        if len(line) <= self._width:
            return line
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        return textwrap.fill(line, self._width, subsequent_indent=indent, break_on_hyphens=False)


def clean_environment() -> dict[str, str]:
    """This process's environment without RESUMEFLOW_* settings (a token, TLS) the demo does not use."""
    return {name: value for name, value in os.environ.items() if not name.startswith("RESUMEFLOW_")}


def run_id_of(output: str) -> str:
    """The id of the run a `run` or `resume` command started."""
    for line in output.splitlines():
        match = RUN_STARTED.match(line)
        if match:
            return match.group(1)
    raise DemoError("no run id in the command's output")


def demo(addresses: dict[str, str], api_url: str) -> None:
    """The commands, each checked; `addresses` are the RESUMEFLOW_*_ADDRESS variables."""
    say(f"Started resumeflow serve, and the shop API at {api_url} (examples/demo_api.py)")
    say("whose /profile and /orders fail their first call. Abridged: no RUNNING lines or error summaries.")
    say(bold("$ export " + " ".join(f"{name}={value}" for name, value in addresses.items())))
    width = shutil.get_terminal_size((WIDTH, 50)).columns if sys.stdout.isatty() else WIDTH
    shell = Shell(clean_environment() | addresses, width)
    shell("apply", str(WORKFLOW_FILE.relative_to(ROOT)), expect="Applied workflow shop")
    failed = shell(
        "run", "shop", "--env-var", f"api={api_url}", exit_code=1, expect="failed nodes: orders, profile"
    )
    shell("failed", "shop", expect=f"Failed nodes of run {run_id_of(failed)[:8]}")
    resumed = shell("resume", "shop", "--all-failed", expect=" SUCCEEDED in ")
    shell("show", run_id_of(resumed)[:8], expect="RESTORED")
    shell("failed", "shop", expect="Nothing to resume")


def main() -> int:
    # SIGTERM (make interrupted, CI timeouts) unwinds like Ctrl-C, so the children get stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="resumeflow-demo-"))
    runner_address, history_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    serve_log, api_log = workdir / "serve.log", workdir / "demo-api.log"
    serve = [sys.executable, "-m", "resumeflow_cli", "serve", "--listen", runner_address]
    serve += ["--history-address", history_address, "--database", f"sqlite+aiosqlite:///{workdir}/history.db"]
    api = [sys.executable, str(HERE / "demo_api.py"), "--port", "0"]
    addresses = {"RESUMEFLOW_RUNNER_ADDRESS": runner_address, "RESUMEFLOW_HISTORY_ADDRESS": history_address}
    try:
        with (
            started(serve, serve_log, stdout=subprocess.DEVNULL, env=clean_environment()) as services,
            started(api, api_log, stdout=subprocess.PIPE) as shop,
        ):
            try:
                api_url = read_api_url(shop)
                wait_serving(history_address, services)
                wait_serving(runner_address, services)
                demo(addresses, api_url)
            except DemoError as error:
                say(f"\ndemo FAILED: {error}")
                for log in (serve_log, api_log):
                    say(f"--- the end of {log.name} ---\n{log.read_text()[-2000:].rstrip()}")
                return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    say("\ndemo finished: the run failed (exit status 1), was resumed (exit status 0) and SUCCEEDED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
