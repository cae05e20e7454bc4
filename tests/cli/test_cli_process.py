"""`resumeflow` as a real process, and `watch` following a live run through a dropped connection."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import BackgroundServices, invoke, write_workflow
from client_helpers import TcpProxy, chain_workflow

from resumeflow.v1 import runner_service_pb2 as rpb

CLI = [sys.executable, "-m", "resumeflow_cli"]
PROCESS_TIMEOUT = 60.0  # seconds


def run_process(services: BackgroundServices, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        env={**os.environ, **services.env},
        stdin=subprocess.DEVNULL,
    )


def test_the_process_exits_0_1_and_2_for_success_failure_and_rejection(
    parallel: BackgroundServices,
) -> None:
    succeeded = run_process(parallel, "run", "parallel", "-e", "fail=", "-e", "fail2=", "-i", "trail=")
    failed = run_process(parallel, "run", "parallel", "-e", "fail=left", "-e", "fail2=", "-i", "trail=")
    rejected = run_process(parallel, "resume", "parallel", "--node", "ghost")

    assert succeeded.returncode == 0, succeeded.stderr
    assert failed.returncode == 1 and "failed nodes: left" in failed.stdout
    assert rejected.returncode == 2
    assert rejected.stderr.startswith("INVALID_RESUME: ") and "Traceback" not in rejected.stderr


def test_a_piped_resume_without_its_secret_names_it_and_does_not_prompt(
    needs_key: BackgroundServices,
) -> None:
    result = run_process(needs_key, "resume", "needs-key", "-e", "fail=")

    assert result.returncode == 2
    assert "missing secrets: api_key" in result.stderr and "Secret api_key" not in result.stdout


def test_watch_follows_a_live_run_across_a_cut_connection(
    background: BackgroundServices, tmp_path: Path
) -> None:
    assert (
        invoke(
            background, "apply", str(write_workflow(tmp_path, chain_workflow("chain", 12, 0.05)))
        ).exit_code
        == 0
    )
    services = background.services
    assert services is not None
    proxy = TcpProxy(services.history_server.port)
    background.call(proxy.start())

    async def start_run() -> str:
        call = services.runner.RunWorkflow(rpb.RunWorkflowRequest(workflow_id="chain"))
        accepted = await call.read()
        call.cancel()  # the run goes on
        return str(accepted.accepted.run.id)

    async def cut_later() -> None:
        await asyncio.sleep(0.25)
        proxy.cut()

    try:
        run_id = background.call(start_run())
        cut = background.submit(cut_later())
        result = invoke(background, "watch", run_id, "--json", "--history-address", f"127.0.0.1:{proxy.port}")
        cut.result(5)
    finally:
        background.call(proxy.close())

    assert result.exit_code == 0, result.output
    sequences = [json.loads(line)["sequence"] for line in result.stdout.splitlines()]
    assert sequences == list(range(1, len(sequences) + 1)) and len(sequences) == 2 + 2 * 14
    assert proxy.connections >= 2, "the stream was cut and reopened"
