"""Builders shared by the store tests: a small workflow, events, runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from history_service.store import HistoryStore
from resumeflow_core.records import Event, NodeResult, Run, RunStart
from resumeflow_core.status import EventKind, NodeStatus
from resumeflow_core.workflow import Edge, Node, Workflow

RUNNER = "runner-1"
NODE_IDS = ("start", "fetch", "check", "end")


def make_workflow(workflow_id: str = "orders", url: str = "https://example.test") -> Workflow:
    """start → fetch → check → end."""
    return Workflow(
        id=workflow_id,
        name="Orders",
        nodes=(
            Node("start", "start"),
            Node("fetch", "http", label="Fetch", config={"method": "GET", "url": url}),
            Node("check", "assert", config={"expressions": ["prev.status == 200"]}),
            Node("end", "end"),
        ),
        edges=(Edge("start", "fetch"), Edge("fetch", "check"), Edge("check", "end")),
    )


def node_event(run_id: str, sequence: int, node_id: str, status: NodeStatus) -> Event:
    return Event(
        run_id=run_id,
        sequence=sequence,
        time=datetime.now(UTC),
        kind=EventKind.NODE_STATUS,
        node_id=node_id,
        node_status=status,
        attempt=1,
    )


def finished_event(run_id: str, sequence: int) -> Event:
    return Event(
        run_id=run_id,
        sequence=sequence,
        time=datetime.now(UTC),
        kind=EventKind.RUN_FINISHED,
    )


async def start_run(
    store: HistoryStore,
    *,
    request_id: str = "",
    resume_from: str = "",
    presets: Sequence[NodeResult] = (),
    runner_id: str = RUNNER,
    lease_seconds: float = 30.0,
    workflow_id: str = "orders",
) -> Run:
    """Create a run of `orders` v1 and return it (asserting it is new)."""
    run, existing = await store.create_run(
        RunStart(
            Run(
                id="",
                workflow_id=workflow_id,
                workflow_version=1,
                request_id=request_id,
                resume_from_run_id=resume_from,
            ),
            node_ids=NODE_IDS,
            preset_results=presets,
            runner_id=runner_id,
            lease_seconds=lease_seconds,
        )
    )
    assert not existing
    return run
