"""Faults injected into services running as separate processes: a history that is killed and
restarted, or frozen, for longer than the lease mid-run does not lose the run; a runner that is
really gone still loses it to RUNNER_LOST, resumably."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fault_lab import Lab, StreamReader, outcome, start_run

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

LEASE = 3.0  # seconds; the outages below last longer
NODES, NODE_SECONDS = 20, 0.15  # a run of about 3 s
RUN_TIMEOUT = 60.0  # seconds; generous, only against hangs


@pytest.fixture
async def lab(database_url: str, tmp_path: Path) -> AsyncIterator[Lab]:
    started = Lab(tmp_path, database_url, lease_seconds=LEASE)
    try:
        await started.start()
        await started.put_chain("chain", NODES, NODE_SECONDS)
        yield started
    finally:
        await started.close()


async def _mid_run(lab: Lab) -> StreamReader:
    reader = await start_run(lab, "chain")
    await asyncio.sleep(0.8)
    assert reader.finished is None and reader.node_events(), "the fault must come mid-run"
    return reader


async def test_a_run_survives_history_killed_and_restarted_after_longer_than_the_lease(lab: Lab) -> None:
    reader = await _mid_run(lab)
    lab.history.kill()
    await asyncio.sleep(LEASE + 0.5)
    lab.history.start()

    await _assert_came_through(lab, reader)


async def test_a_run_survives_history_frozen_for_longer_than_the_lease(lab: Lab) -> None:
    reader = await _mid_run(lab)
    lab.history.freeze()
    await asyncio.sleep(LEASE + 1.0)
    lab.history.thaw()

    await _assert_came_through(lab, reader)


async def _assert_came_through(lab: Lab, reader: StreamReader) -> None:
    """The run SUCCEEDED, its log is gapless, and its client was streamed exactly that log."""
    await asyncio.wait_for(reader.task, RUN_TIMEOUT)
    result = await outcome(lab, reader)
    assert result.status == "RUN_STATUS_SUCCEEDED", lab.logs()
    assert result.gapless and result.stream_is_store and result.streamed_finished, (result, lab.logs())
    assert result.events == 2 + 2 * (NODES + 2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_killed_runner_loses_its_run_to_runner_lost_and_it_can_be_resumed(lab: Lab) -> None:
    reader = await _mid_run(lab)
    lab.runner.kill()
    await asyncio.wait_for(reader.task, RUN_TIMEOUT)

    run = await _wait_finished(lab, reader.run_id)

    assert run.status == run_pb2.RUN_STATUS_FAILED and run.error_summary.startswith("RUNNER_LOST")
    result = await outcome(lab, reader)
    assert result.gapless and result.stream_is_store, result  # the stream showed a stored prefix
    lab.runner.start()
    await lab.runner.wait_serving()
    resume = rpb.RunWorkflowRequest(
        workflow_id="chain", resume=run_pb2.ResumeSpec(mode=run_pb2.RESUME_MODE_ALL_FAILED)
    )
    messages = [m async for m in lab.runner_stub.RunWorkflow(resume, timeout=RUN_TIMEOUT)]
    assert messages[-1].finished.run.status == run_pb2.RUN_STATUS_SUCCEEDED
    assert messages[-1].finished.run.resume_from_run_id == run.id


async def _wait_finished(lab: Lab, run_id: str) -> run_pb2.Run:
    """The run once the history ended it; a lost runner's run ends within about two leases."""
    for _ in range(int(RUN_TIMEOUT / 0.2)):
        run = (await lab.history_stub.GetRun(hpb.GetRunRequest(run_id=run_id))).run
        if run.status != run_pb2.RUN_STATUS_RUNNING:
            return run
        await asyncio.sleep(0.2)
    raise AssertionError(f"run {run_id} still RUNNING after {RUN_TIMEOUT}s:\n{lab.logs()}")
