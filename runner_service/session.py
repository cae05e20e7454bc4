"""One run in flight: feeds the executor's transitions to the event log (batched) and to every
stream that follows the run, keeps the run's lease alive, and records its end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from resumeflow_core.errors import (
    ConflictError,
    FailedPreconditionError,
    InvalidArgumentError,
    ResumeflowError,
)
from resumeflow_core.lineage import LineageContext, build_context
from resumeflow_core.records import Event, NodeResult, Run
from resumeflow_core.status import EventKind, NodeStatus, RunStatus
from runner_service.batcher import RETRY_DELAYS, BatchWriteError, EventBatcher
from runner_service.engine import Executor, NodeTransition, Redactor
from runner_service.requests import Finished

log = logging.getLogger(__name__)

_LOST = object()  # sent to followers when the run can no longer be recorded


class HistoryPort(Protocol):
    """The history operations a session needs; the gRPC client implements them."""

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Sequence[NodeResult]
    ) -> bool: ...

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        *,
        status: RunStatus,
        failed_node_ids: Sequence[str],
        variables: dict[str, Any],
        error_summary: str,
        event: Event,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run: ...

    async def heartbeat(self, run_id: str, runner_id: str, lease_seconds: float) -> bool: ...

    async def get_run(self, run_id: str) -> Run: ...


class RunSession:
    """Executes one accepted run and fans its progress out to followers."""

    def __init__(
        self,
        run: Run,
        executor: Executor,
        history: HistoryPort,
        *,
        runner_id: str,
        redactor: Redactor,
        lease_seconds: float,
        definition_hashes: Mapping[str, str],
        preset: Mapping[str, NodeResult] | None = None,
        ancestors: Sequence[Run] = (),
        on_recorded: Callable[[LineageContext], None] = lambda context: None,
    ) -> None:
        self.run = run
        self._executor = executor
        self._history = history
        self._runner_id = runner_id
        self._redactor = redactor
        self._lease_seconds = lease_seconds
        self._sequence = run.last_sequence
        self._followers: list[asyncio.Queue[Event | Finished | object]] = []
        self._started: dict[str, datetime] = {}
        self._definition_hashes = definition_hashes
        self._ancestors = list(ancestors)
        self._on_recorded = on_recorded
        # Carried failures of a resume count in the run's summary like its own.
        self._outcomes: dict[str, NodeResult] = dict(preset or {})
        self.done = asyncio.Event()

    def follow(self) -> asyncio.Queue[Event | Finished | object]:
        """A queue that receives every later event of the run, then its Finished."""
        queue: asyncio.Queue[Event | Finished | object] = asyncio.Queue()
        self._followers.append(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[Event | Finished | object]) -> None:
        with contextlib.suppress(ValueError):
            self._followers.remove(queue)

    def cancel(self) -> None:
        self._executor.cancel()

    def drain(self) -> None:
        """The runner is stopping: start no further node (see `Executor.drain`)."""
        self._executor.drain()

    def interrupt(self) -> None:
        """The shutdown grace passed: fail the nodes in flight (see `Executor.interrupt`)."""
        self._executor.interrupt()

    async def execute(self) -> None:
        """Run to the end. Never raises: a run that cannot be recorded is left to lease expiry."""
        batcher = EventBatcher(self._write_batch, on_cancel_requested=self.cancel)
        heartbeat = asyncio.create_task(self._heartbeat_forever(), name=f"heartbeat-{self.run.id}")
        try:
            async for transition in self._executor.run():
                event, result = self._record(transition)
                batcher.add(event, result)
                self._broadcast(event)
            # What the batcher has not written yet goes with the run's end, in one transaction.
            events, results = await batcher.stop()
            finished = await self._finish(events, results)
            self._broadcast(finished)
        except (BatchWriteError, ResumeflowError, OSError) as error:
            log.error("run %s cannot be recorded and is abandoned to lease expiry: %s", self.run.id, error)
            self._executor.cancel()
            batcher.abort()
            self._broadcast(_LOST)
        finally:
            heartbeat.cancel()
            self.done.set()

    def _record(self, transition: NodeTransition) -> tuple[Event, NodeResult]:
        self._sequence += 1
        now = datetime.now(UTC)
        event = Event(
            run_id=self.run.id,
            sequence=self._sequence,
            time=now,
            kind=EventKind.NODE_STATUS,
            node_id=transition.node_id,
            node_status=transition.status,
            attempt=transition.attempt,
            message=transition.message,
        )
        if transition.status == NodeStatus.RUNNING:
            started = self._started.setdefault(transition.node_id, now)
            return event, NodeResult(transition.node_id, NodeStatus.RUNNING, transition.attempt, started)
        result = transition.result or NodeResult(transition.node_id, transition.status, transition.attempt)
        result.finish_sequence = self._sequence
        result.definition_hash = self._definition_hashes.get(result.node_id, "")
        self._outcomes[result.node_id] = result
        return event, result

    async def _write_batch(self, events: list[Event], results: list[NodeResult]) -> bool:
        return await self._history.append_events(self.run.id, self._runner_id, events, results)

    async def _finish(self, events: list[Event], results: list[NodeResult]) -> Finished:
        self._sequence += 1
        status = self._executor.status
        event = Event(
            run_id=self.run.id,
            sequence=self._sequence,
            time=datetime.now(UTC),
            kind=EventKind.RUN_FINISHED,
            run_status=status,
            message=f"run {status.name}",
        )
        run = await self._finish_with_retries(
            status=status,
            failed_node_ids=self._executor.failed_node_ids,
            variables=self._redactor.redact(self._executor.variables),
            error_summary=summarize(self._outcomes.values()),
            event=event,
            events=events,
            node_results=results,
        )
        self.run = run
        # Everything stored for this run is known here: a resume of it needs no lineage read.
        self._on_recorded(build_context([run, *self._ancestors], self._outcomes.values()))
        return Finished(run, self._sequence)

    async def _finish_with_retries(self, **end: Any) -> Run:
        """FinishRun, retried like a batch: a run's end must not be lost to a passing hiccup.

        1. Success: the finished run.
        2. RUN_FINISHED on a retry: an earlier attempt landed but its answer was lost; read the run.
        3. Unreachable history or busy database: retry with backoff, then give up (lease expiry).
        """
        for attempt, delay in enumerate((*RETRY_DELAYS, None)):
            try:
                return await self._history.finish_run(self.run.id, self._runner_id, **end)  # case 1
            except FailedPreconditionError as error:
                if attempt and error.reason == "RUN_FINISHED":  # case 2
                    return await self._history.get_run(self.run.id)
                raise
            except (ConflictError, InvalidArgumentError):
                raise
            except (ResumeflowError, OSError) as error:  # case 3
                if delay is None:
                    raise
                log.warning("finishing run %s failed (%s); retrying in %.2fs", self.run.id, error, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _broadcast(self, item: Event | Finished | object) -> None:
        for queue in self._followers:
            queue.put_nowait(item)

    async def _heartbeat_forever(self) -> None:
        interval = self._lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                if await self._history.heartbeat(self.run.id, self._runner_id, self._lease_seconds):
                    self.cancel()
            except (ResumeflowError, OSError) as error:
                log.warning("heartbeat of run %s failed: %s", self.run.id, error)


def is_lost(item: object) -> bool:
    """True for the marker a session sends when its run can no longer be recorded."""
    return item is _LOST


def summarize(results: Iterable[NodeResult]) -> str:
    """One line saying why a run did not succeed, or "" when nothing failed."""
    results = list(results)
    failed = [r for r in results if r.status == NodeStatus.FAILED]
    blocked = sum(1 for r in results if r.status == NodeStatus.BLOCKED)
    cancelled = sum(1 for r in results if r.status == NodeStatus.CANCELLED)
    parts = []
    if failed:
        shown = "; ".join(
            f"{r.node_id}: {r.error.code}: {r.error.message}" if r.error else r.node_id for r in failed[:3]
        )
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        parts.append(f"{len(failed)} node{'s' if len(failed) > 1 else ''} failed: {shown}{more}")
    if blocked:
        parts.append(f"{blocked} blocked")
    if cancelled:
        parts.append(f"{cancelled} cancelled")
    return "; ".join(parts)[:1000]
