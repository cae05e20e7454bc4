"""A run session records its run through a history port; a fake port here stands in for the service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from resumeflow_core.errors import ConflictError, FailedPreconditionError, UnavailableError
from resumeflow_core.nodes.registry import default_registry
from resumeflow_core.records import Event, NodeError, NodeResult, Run, RunEnd
from resumeflow_core.status import EventKind, NodeStatus, RunStatus
from resumeflow_core.workflow import Edge, Node, Workflow
from runner_service import retry
from runner_service.engine import ExecutionPlan, Executor, Redactor
from runner_service.requests import Finished
from runner_service.session import RunSession, is_lost, summarize

TINY = Workflow(
    id="tiny",
    version=1,
    nodes=(Node("start", "start"), Node("end", "end")),
    edges=(Edge("start", "end"),),
)


def chain(count: int) -> Workflow:
    names = ["start", *(f"n{i}" for i in range(count)), "end"]
    nodes = (Node("start", "start"), *(Node(name, "noop") for name in names[1:-1]), Node("end", "end"))
    return Workflow(
        id="chain",
        version=1,
        nodes=nodes,
        edges=tuple(Edge(a, b) for a, b in zip(names, names[1:], strict=False)),
    )


class FakeHistory:
    """Stores what the session writes like the real store (gapless sequences, one run); while
    `down` is set every call fails as unreachable, and `refusals` fail the next writes."""

    def __init__(self, finish_failures: Sequence[Exception] = ()) -> None:
        self.finish_failures = list(finish_failures)
        self.refusals: list[Exception] = []
        self.events: list[Event] = [Event("r1", 1, datetime.now(UTC), EventKind.RUN_STARTED)]
        self.finished: Run | None = None
        self.down = asyncio.Event()
        self.heartbeats = 0
        self.heartbeat_failures: list[Exception] = []

    def _check(self, events: Sequence[Event]) -> None:
        if self.down.is_set():
            raise UnavailableError("history unreachable")
        if self.refusals:
            raise self.refusals.pop(0)
        if self.finished is not None:
            raise FailedPreconditionError("run finished", reason="RUN_FINISHED")
        expected = self.events[-1].sequence + 1
        if events and events[0].sequence != expected:
            raise ConflictError(
                "gap",
                reason="SEQUENCE_GAP",
                metadata={"expected": str(expected), "got": str(events[0].sequence)},
            )

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Any
    ) -> bool:
        self._check(events)
        self.events += events
        return False

    async def finish_run(
        self, run_id: str, runner_id: str, end: RunEnd, events: Sequence[Event] = (), node_results: Any = ()
    ) -> Run:
        self._check([*events, end.event])
        self.events += [*events, end.event]
        self.finished = Run(
            id=run_id,
            workflow_id="tiny",
            status=end.status,
            last_sequence=end.event.sequence,
            error_summary=end.error_summary,
        )
        if self.finish_failures:
            raise self.finish_failures.pop(0)
        return self.finished

    async def heartbeat(
        self, run_id: str, runner_id: str, lease_seconds: float, *, timeout: float | None = None
    ) -> bool:
        self.heartbeats += 1
        if self.heartbeat_failures:
            raise self.heartbeat_failures.pop(0)
        return False

    async def get_run(self, run_id: str) -> Run:
        assert self.finished is not None, "the first attempt did not land"
        return self.finished


def new_session(history: FakeHistory, http: httpx.AsyncClient, flow: Workflow = TINY) -> RunSession:
    plan = ExecutionPlan.build(flow)
    executor = Executor(plan, default_registry(), http, inputs={}, environment={}, secrets={}, run_info={})
    return RunSession(
        Run(id="r1", workflow_id=flow.id, last_sequence=1),
        executor,
        history,  # type: ignore[arg-type]
        runner_id="runner",
        redactor=Redactor([]),
        lease_seconds=0.3,
        definition_hashes=plan.definition_hashes,
    )


async def run_session(history: FakeHistory, flow: Workflow = TINY) -> list[object]:
    async with httpx.AsyncClient() as http:
        session = new_session(history, http, flow)
        queue = session.follow()
        await session.execute()
    return [queue.get_nowait() for _ in range(queue.qsize())]


def streamed(items: list[object]) -> list[Event]:
    return [event for item in items if isinstance(item, list) for event in item]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry.Backoff, "next_delay", lambda self: 0.001)


async def test_a_finish_that_keeps_failing_for_a_while_is_retried_until_the_run_ends() -> None:
    history = FakeHistory()
    history.down.set()
    asyncio.get_running_loop().call_later(0.3, history.down.clear)

    items = await run_session(history)

    assert isinstance(items[-1], Finished) and items[-1].run.status == RunStatus.SUCCEEDED
    assert [e.sequence for e in history.events] == list(range(1, 7))
    assert streamed(items) == history.events[1:-1]


async def test_a_finish_that_landed_but_lost_its_answer_is_read_back() -> None:
    history = FakeHistory(finish_failures=[UnavailableError("the answer was lost")])

    items = await run_session(history)

    assert isinstance(items[-1], Finished) and items[-1].run.status == RunStatus.SUCCEEDED
    assert history.events[-1].kind == EventKind.RUN_FINISHED


async def test_a_run_finished_by_lease_expiry_meanwhile_is_lost_not_finished() -> None:
    history = FakeHistory()
    history.finished = Run(
        id="r1", workflow_id="tiny", status=RunStatus.FAILED, error_summary="RUNNER_LOST: …"
    )

    items = await run_session(history)

    assert is_lost(items[-1])
    assert streamed(items) == []  # nothing the store lacks was shown


async def test_followers_see_only_stored_events_and_all_of_them_after_an_outage() -> None:
    history = FakeHistory()
    history.down.set()
    async with httpx.AsyncClient() as http:
        session = new_session(history, http, chain(5))
        queue = session.follow()
        task = asyncio.create_task(session.execute())
        await asyncio.sleep(0.2)
        assert queue.empty() and history.events[-1].sequence == 1
        history.down.clear()
        await asyncio.wait_for(task, 5)
    items = [queue.get_nowait() for _ in range(queue.qsize())]

    assert isinstance(items[-1], Finished) and items[-1].sequence == history.events[-1].sequence
    assert streamed(items) == history.events[1:-1]
    assert [e.sequence for e in history.events] == list(range(1, history.events[-1].sequence + 1))


async def test_a_full_backlog_stops_the_run_from_starting_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runner_service.batcher.MAX_PENDING_EVENTS", 4)
    monkeypatch.setattr("runner_service.batcher.MAX_BATCH_EVENTS", 2)
    history = FakeHistory()
    history.down.set()
    recorded: list[Event] = []
    async with httpx.AsyncClient() as http:
        session = new_session(history, http, chain(30))
        original = session._record

        def spy(transition: Any) -> tuple[Event, NodeResult]:
            event, result = original(transition)
            recorded.append(event)
            return event, result

        session._record = spy  # type: ignore[method-assign]
        task = asyncio.create_task(session.execute())
        await asyncio.sleep(0.3)
        held = len(recorded)
        history.down.clear()
        await asyncio.wait_for(task, 5)

    assert held <= 4 + 2  # the bound, plus what nodes already running reported
    assert history.finished is not None and history.finished.status == RunStatus.SUCCEEDED
    assert [e.sequence for e in history.events] == list(range(1, 2 + 2 * 32 + 1))  # 32 nodes


async def test_a_write_refused_for_good_loses_the_run_without_streaming_it() -> None:
    history = FakeHistory()
    history.refusals = [ConflictError("another runner", reason="LEASE_LOST")] * 10

    items = await run_session(history, chain(3))

    assert is_lost(items[-1])
    assert streamed(items) == history.events[1:] == []


async def test_a_heartbeat_refused_for_good_stops_the_run() -> None:
    history = FakeHistory()
    history.heartbeat_failures = [FailedPreconditionError("run finished", reason="RUN_FINISHED")]
    slow = Workflow(
        id="slow",
        version=1,
        nodes=(Node("start", "start"), Node("wait", "delay", config={"seconds": 30}), Node("end", "end")),
        edges=(Edge("start", "wait"), Edge("wait", "end")),
    )

    items = await asyncio.wait_for(run_session(history, slow), 10)

    assert history.finished is not None and history.finished.status == RunStatus.CANCELLED
    assert isinstance(items[-1], Finished)


async def test_a_failing_heartbeat_is_retried_sooner_than_the_interval() -> None:
    history = FakeHistory()
    history.heartbeat_failures = [UnavailableError("down")] * 3
    slow = Workflow(
        id="slow",
        version=1,
        nodes=(Node("start", "start"), Node("wait", "delay", config={"seconds": 0.5}), Node("end", "end")),
        edges=(Edge("start", "wait"), Edge("wait", "end")),
    )

    await run_session(history, slow)

    # Every 0.1 s (a third of the 0.3 s lease) would make 5 in 0.5 s; failures retry at once.
    assert history.heartbeats >= 6


def test_the_error_summary_lists_failures_in_the_runs_failed_node_order_not_as_they_happened() -> None:
    def failed(node_id: str) -> NodeResult:
        return NodeResult(
            node_id, NodeStatus.FAILED, 1, error=NodeError("HTTP_STATUS", f"{node_id} said 503")
        )

    completed = [failed("zeta"), NodeResult("j", NodeStatus.BLOCKED, 0), failed("alpha")]

    summary = summarize(completed, ["alpha", "zeta"])

    assert (
        summary
        == "2 nodes failed: alpha: HTTP_STATUS: alpha said 503; zeta: HTTP_STATUS: zeta said 503; 1 blocked"
    )
