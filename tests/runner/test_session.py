"""A run session records its run through a history port; a fake port here stands in for the service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from resumeflow_core.errors import FailedPreconditionError, UnavailableError
from resumeflow_core.nodes.registry import default_registry
from resumeflow_core.records import Event, Run
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.workflow import Edge, Node, Workflow
from runner_service import batcher
from runner_service.engine import ExecutionPlan, Executor, Redactor
from runner_service.requests import Finished
from runner_service.session import RunSession

FLOW = Workflow(
    id="tiny",
    version=1,
    nodes=(Node("start", "start"), Node("end", "end")),
    edges=(Edge("start", "end"),),
)


class FlakyHistory:
    """Records what the session writes; its FinishRun fails as scripted."""

    def __init__(self, finish_failures: list[Exception]) -> None:
        self.finish_failures = finish_failures
        self.events: list[Event] = []
        self.finished: Run | None = None

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Any
    ) -> bool:
        self.events += events
        return False

    async def finish_run(self, run_id: str, runner_id: str, **end: Any) -> Run:
        self.events += [*end["events"], end["event"]]
        if self.finish_failures:
            raise self.finish_failures.pop(0)
        self.finished = Run(
            id=run_id, workflow_id="tiny", status=end["status"], last_sequence=end["event"].sequence
        )
        return self.finished

    async def heartbeat(self, run_id: str, runner_id: str, lease_seconds: float) -> bool:
        return False

    async def get_run(self, run_id: str) -> Run:
        assert self.finished is not None, "the first attempt did not land"
        return self.finished


async def run_session(history: FlakyHistory) -> list[object]:
    plan = ExecutionPlan.build(FLOW)
    async with httpx.AsyncClient() as http:
        executor = Executor(
            plan, default_registry(), http, inputs={}, environment={}, secrets={}, run_info={}
        )
        session = RunSession(
            Run(id="r1", workflow_id="tiny", last_sequence=1),
            executor,
            history,
            runner_id="runner",
            redactor=Redactor([]),
            lease_seconds=30,
            definition_hashes=plan.definition_hashes,
        )
        queue = session.follow()
        await session.execute()
    return [queue.get_nowait() for _ in range(queue.qsize())]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batcher, "RETRY_DELAYS", (0.0, 0.0))
    monkeypatch.setattr("runner_service.session.RETRY_DELAYS", (0.0, 0.0))


async def test_a_finish_that_fails_once_is_retried_and_the_run_still_ends() -> None:
    history = FlakyHistory([UnavailableError("history restarting")])

    items = await run_session(history)

    assert isinstance(items[-1], Finished) and items[-1].run.status == RunStatus.SUCCEEDED
    assert history.events[-1].kind == EventKind.RUN_FINISHED


async def test_a_finish_that_landed_but_lost_its_answer_is_read_back() -> None:
    history = FlakyHistory([])
    original = history.finish_run
    calls = 0

    async def landed_then_refused(run_id: str, runner_id: str, **end: Any) -> Run:
        nonlocal calls
        calls += 1
        if calls == 1:
            await original(run_id, runner_id, **end)
            raise UnavailableError("the answer was lost")
        raise FailedPreconditionError("run finished", reason="RUN_FINISHED")

    history.finish_run = landed_then_refused  # type: ignore[method-assign]

    items = await run_session(history)

    assert isinstance(items[-1], Finished) and items[-1].run.status == RunStatus.SUCCEEDED


async def test_a_finish_that_keeps_failing_abandons_the_run_to_lease_expiry() -> None:
    history = FlakyHistory([UnavailableError("down")] * 3)

    items = await run_session(history)

    assert not any(isinstance(item, Finished) for item in items)
    assert history.finished is None
