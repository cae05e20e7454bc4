"""The blocking client: same methods, results and errors as the async one, on its own loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from client_helpers import addresses, chain_workflow, parallel_workflow, secret_workflow
from integration_helpers import Services

from resumeflow_client import (
    Event,
    EventKind,
    MissingSecretsError,
    NodeFate,
    NoFailedRunError,
    NotFoundError,
    RunAccepted,
    RunFinished,
    RunStatus,
    SyncClient,
)


@pytest.fixture
def sync_client(services: Services) -> Iterator[SyncClient]:
    # `services` lives on the test's event loop; the sync client must not block that loop, so these
    # tests call it from a worker thread (see `blocking`).
    runner, history = addresses(services)
    client = SyncClient.connect(runner, history_address=history)
    try:
        yield client
    finally:
        client.close()


async def blocking(function, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run blocking code off the loop that serves the in-process services."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def test_run_resume_and_read_back_through_the_sync_client(sync_client: SyncClient) -> None:
    def scenario() -> None:
        sync_client.apply_workflow(parallel_workflow())
        failed = sync_client.run(
            "parallel", inputs={"trail": ""}, env={"fail": "left", "fail2": "right"}
        ).result()
        latest = sync_client.latest_failed("parallel")
        plan = sync_client.plan_resume("parallel", all_failed=True)
        resumed = sync_client.resume("parallel", all_failed=True, env={"fail": "", "fail2": ""}).result()

        assert failed.status == RunStatus.FAILED and latest.run.id == failed.id
        assert [n.node_id for n in latest.failed_nodes] == ["left", "right"]
        assert plan.nodes_with(NodeFate.RERUN) == ("left", "right", "join", "end")
        assert resumed.status == RunStatus.SUCCEEDED and resumed.resume_from_run_id == failed.id
        assert sync_client.get_run(resumed.id).node_result("start").status.name == "RESTORED"  # type: ignore[union-attr]
        assert [run.id for run in sync_client.list_runs("parallel", page_size=1)] == [resumed.id, failed.id]
        assert [w.id for w in sync_client.list_workflows()] == ["parallel"]
        assert [r.id for r in sync_client.lineage(resumed.id).lineage] == [resumed.id, failed.id]
        with pytest.raises(NoFailedRunError):
            sync_client.latest_failed("parallel")

    await blocking(scenario)


async def test_a_sync_run_handle_iterates_updates_and_a_watch_replays_events(sync_client: SyncClient) -> None:
    def scenario() -> None:
        sync_client.apply_workflow(chain_workflow("chain", 2))
        handle = sync_client.run("chain")
        updates = list(handle)
        watch = sync_client.watch(handle.run_id)
        events = list(watch)

        assert isinstance(updates[0], RunAccepted) and isinstance(updates[-1], RunFinished)
        assert all(isinstance(u, Event) for u in updates[1:-1])
        assert handle.finished is not None and handle.result().status == RunStatus.SUCCEEDED
        assert [e.sequence for e in events] == list(range(1, handle.finished.sequence + 1))
        assert events[-1].kind == EventKind.RUN_FINISHED and watch.last_sequence == events[-1].sequence

    await blocking(scenario)


async def test_the_sync_client_raises_the_same_errors(sync_client: SyncClient) -> None:
    def scenario() -> None:
        sync_client.apply_workflow(secret_workflow())
        sync_client.run("needs-key", secrets={"api_key": "k"}, env={"fail": "call"}).result()
        with pytest.raises(MissingSecretsError) as raised:
            sync_client.resume("needs-key", env={"fail": ""}).result()
        assert raised.value.secret_names == ("api_key",)
        with pytest.raises(NotFoundError):
            sync_client.get_run("nope")
        with pytest.raises(NotFoundError):
            list(sync_client.watch("nope"))

    await blocking(scenario)


def test_closing_stops_the_loop_thread() -> None:
    before = {t.name for t in threading.enumerate()}
    with SyncClient.connect("127.0.0.1:1", history_address="127.0.0.1:1") as client:
        assert client.async_client is not None
        assert "resumeflow-client" in {t.name for t in threading.enumerate()} - before

    assert "resumeflow-client" not in {t.name for t in threading.enumerate()} - before
