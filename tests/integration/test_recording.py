"""How the runner's history client records a run: writes over the message limit are split into
consecutive messages, each within the limit, and the history stores all of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from integration_helpers import Services, node, workflow

from resumeflow_core.records import Event, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import EventKind, NodeStatus, RunStatus
from runner_service import history_client
from runner_service.history_client import HistoryClient

LIMIT = 8_000  # bytes: at most two 3 KB results per write
BRANCHES = [f"b{i}" for i in range(6)]
NODES = ["start", *BRANCHES, "end"]
RUNNER = "runner-1"


def node_events(run_id: str, first: int, node_ids: list[str]) -> list[Event]:
    """RUNNING then SUCCEEDED of each node, numbered from `first`."""
    now = datetime.now(UTC)
    statuses = [
        (node_id, status) for node_id in node_ids for status in (NodeStatus.RUNNING, NodeStatus.SUCCEEDED)
    ]
    return [
        Event(run_id, first + index, now, EventKind.NODE_STATUS, node_id=node_id, node_status=status)
        for index, (node_id, status) in enumerate(statuses)
    ]


def big_results(node_ids: list[str], events: list[Event]) -> list[NodeResult]:
    last = {event.node_id: event.sequence for event in events}
    return [
        NodeResult(
            node_id, NodeStatus.SUCCEEDED, 1, output={"blob": node_id * 1500}, finish_sequence=last[node_id]
        )
        for node_id in node_ids
    ]


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(request type, serialized size) of every call the history client makes, at a small limit."""
    monkeypatch.setattr(history_client, "MAX_WRITE_BYTES", LIMIT)
    sent: list[tuple[str, int]] = []
    original = HistoryClient._call

    async def spy(self: HistoryClient, method: Any, request: Any, *args: Any) -> Any:
        sent.append((type(request).__name__, request.ByteSize()))
        return await original(self, method, request, *args)

    monkeypatch.setattr(HistoryClient, "_call", spy)
    return sent


async def test_appends_and_finishes_over_the_limit_are_split_and_all_of_it_is_stored(
    services: Services, sizes: list[tuple[str, int]]
) -> None:
    nodes = [node("start", "start"), *(node(name, "noop") for name in BRANCHES), node("end", "end")]
    edges = [*(("start", name) for name in BRANCHES), *((name, "end") for name in BRANCHES)]
    await services.put(workflow("big", nodes, edges))  # type: ignore[arg-type]
    client = HistoryClient(services.history_channel)
    run, _ = await client.create_run(
        RunStart(Run(id="", workflow_id="big", workflow_version=1), node_ids=NODES, runner_id=RUNNER)
    )
    appended = node_events(run.id, 2, ["start", *BRANCHES[:3]])
    finished = node_events(run.id, appended[-1].sequence + 1, [*BRANCHES[3:], "end"])
    end = Event(run.id, finished[-1].sequence + 1, datetime.now(UTC), EventKind.RUN_FINISHED)

    await client.append_events(run.id, RUNNER, appended, big_results(BRANCHES[:3], appended))
    stored = await client.finish_run(
        run.id, RUNNER, RunEnd(RunStatus.SUCCEEDED, end), finished, big_results(BRANCHES[3:], finished)
    )

    writes = [size for name, size in sizes if name in ("AppendEventsRequest", "FinishRunRequest")]
    assert len(writes) == 4 and max(writes) <= LIMIT  # three results per call: two messages each
    assert stored.status == RunStatus.SUCCEEDED and stored.last_sequence == end.sequence
    results = (await client.get_run(run.id)).node_results
    assert {r.node_id: r.output for r in results if r.node_id in BRANCHES} == {
        name: {"blob": name * 1500} for name in BRANCHES
    }
    events = [event async for batch in client.watch_run(run.id) for event in batch]
    assert [e.sequence for e in events] == list(range(1, end.sequence + 1))
