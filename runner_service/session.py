"""One run in flight: feeds the executor's transitions to the event log (batched) and, once
stored, to every stream that follows the run; keeps the run's lease alive and records its end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from resumeflow_core.errors import FailedPreconditionError, ResumeflowError
from resumeflow_core.lineage import LineageContext, build_context
from resumeflow_core.reasons import RUN_FINISHED
from resumeflow_core.records import Event, NodeResult, Run, RunEnd
from resumeflow_core.status import EventKind, NodeStatus
from runner_service.batcher import BatchWriteError, EventBatcher, store_in_order
from runner_service.engine import Executor, NodeTransition, Redactor
from runner_service.requests import Finished
from runner_service.retry import Backoff, is_transient

log = logging.getLogger(__name__)

_LOST = object()  # sent to followers when the run can no longer be recorded

HEARTBEAT_FRACTION = 1 / 3
"""A lease is renewed this often (as a fraction of its length), so two renewals may fail in a row."""
MAX_HEARTBEAT_RETRY_DELAY = 1.0  # seconds between attempts while a heartbeat fails
FIRST_EVENT_WAIT = 0.05
"""Seconds the run's further transitions wait, at most, for its first event to be stored."""


class HistoryPort(Protocol):
    """The history operations a session needs; the gRPC client implements them."""

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Sequence[NodeResult]
    ) -> bool: ...

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        end: RunEnd,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run: ...

    async def heartbeat(
        self, run_id: str, runner_id: str, lease_seconds: float, *, timeout: float | None = None
    ) -> bool: ...

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
        self._followers: list[asyncio.Queue[list[Event] | Finished | object]] = []
        self._started: dict[str, datetime] = {}
        self._definition_hashes = definition_hashes
        self._ancestors = list(ancestors)
        self._on_recorded = on_recorded
        # Carried failures of a resume count in the run's summary like its own.
        self._outcomes: dict[str, NodeResult] = dict(preset or {})
        self.done = asyncio.Event()

    def follow(self) -> asyncio.Queue[list[Event] | Finished | object]:
        """A queue that receives every later event of the run once stored, in batches, then its
        Finished (or the lost marker, see `is_lost`)."""
        queue: asyncio.Queue[list[Event] | Finished | object] = asyncio.Queue()
        self._followers.append(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[list[Event] | Finished | object]) -> None:
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
        """Run to the end. Never raises: a run that cannot be recorded is left to lease expiry.

        Followers receive each event once the history stored it, then Finished; or, when the run
        cannot be recorded (the history refused it for good, the runner is stopping), the lost
        marker, having been shown nothing the store lacks.
        """
        batcher = EventBatcher(
            self._write_batch,
            on_stored=self._broadcast_events,
            on_cancel_requested=self.cancel,
            name=self.run.id,
        )
        heartbeat = asyncio.create_task(self._heartbeat_forever(), name=f"heartbeat-{self.run.id}")
        finished: Finished | None = None
        try:
            first = self._executor.is_long
            async for transition in self._executor.run():
                event, result = self._record(transition)
                batcher.add(event, result)
                if first:
                    # A long run's first event (its first node RUNNING) is written alone and its
                    # acknowledgement streamed while the event loop is free: inline nodes that
                    # follow would otherwise hold the loop between the call's steps. Bounded, so
                    # a history that stops answering does not hold the run up. A short run ends
                    # sooner than one more write would take.
                    first = False
                    await batcher.first_stored(FIRST_EVENT_WAIT)
                if batcher.full:
                    # The history is unreachable: start no further node until the backlog shrinks.
                    await batcher.room()
            # What the batcher has not written yet goes with the run's end, in one transaction.
            events, results = await batcher.stop()
            finished = await self._finish(events, results)
        except (BatchWriteError, ResumeflowError, OSError) as error:
            log.error("run %s cannot be recorded and is abandoned to lease expiry: %s", self.run.id, error)
            self._executor.cancel()
        finally:
            batcher.abort()
            heartbeat.cancel()
            self._broadcast(finished if finished is not None else _LOST)
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
        """Record the run's end with the events not written yet, retried until it lands; then
        hand those events and Finished on."""
        self._sequence += 1
        status = self._executor.status
        end = RunEnd(
            status=status,
            failed_node_ids=self._executor.failed_node_ids,
            variables=self._redactor.redact(self._executor.variables),
            error_summary=summarize(self._outcomes.values(), self._executor.failed_node_ids),
            event=Event(
                run_id=self.run.id,
                sequence=self._sequence,
                time=datetime.now(UTC),
                kind=EventKind.RUN_FINISHED,
                run_status=status,
                message=f"run {status.name}",
            ),
        )

        async def attempt(rest: list[Event]) -> Run:
            return await self._finish_once(end, rest[:-1], results)  # rest ends with end.event

        run = await store_in_order(attempt, [*events, end.event], f"finishing run {self.run.id}")
        assert run is not None, "a stored RUN_FINISHED is reported as RUN_FINISHED, not as a gap"
        self.run = run
        # Everything stored for this run is known here: a resume of it needs no lineage read.
        self._on_recorded(build_context([run, *self._ancestors], self._outcomes.values()))
        self._broadcast_events(events)
        return Finished(run, self._sequence)

    async def _finish_once(self, end: RunEnd, events: list[Event], results: list[NodeResult]) -> Run:
        """One FinishRun attempt.

        Raises:
            FailedPreconditionError: RUN_FINISHED, and the stored end is not this one (the run's
                lease expired meanwhile). When it is this one, an earlier attempt landed but its
                answer was lost, and the stored run is returned.
        """
        try:
            return await self._history.finish_run(self.run.id, self._runner_id, end, events, results)
        except FailedPreconditionError as error:
            if error.reason == RUN_FINISHED:
                stored = await self._history.get_run(self.run.id)
                if end.recorded_as(stored):
                    return stored
            raise

    def _broadcast_events(self, events: list[Event]) -> None:
        if events:
            self._broadcast(events)

    def _broadcast(self, item: list[Event] | Finished | object) -> None:
        for queue in self._followers:
            queue.put_nowait(item)

    async def _heartbeat_forever(self) -> None:
        """Renew the lease every HEARTBEAT_FRACTION of it; after a failure retry sooner, so the
        lease is renewed within moments of the history coming back. A definitive refusal (the
        lease expired or another runner took it) stops the run."""
        interval = self._lease_seconds * HEARTBEAT_FRACTION
        backoff = Backoff(maximum=min(MAX_HEARTBEAT_RETRY_DELAY, interval / 2))
        delay = interval
        while True:
            await asyncio.sleep(delay)
            try:
                cancel_requested = await self._history.heartbeat(
                    self.run.id, self._runner_id, self._lease_seconds, timeout=interval
                )
            except (ResumeflowError, OSError) as error:
                if not is_transient(error):
                    log.error("run %s lost its lease and stops: %s", self.run.id, error)
                    self.cancel()
                    return
                if delay == interval:
                    log.warning(
                        "heartbeat of run %s failed (%s); retrying until it lands", self.run.id, error
                    )
                delay = backoff.next_delay()
                continue
            delay = interval
            backoff.reset()
            if cancel_requested:
                self.cancel()


def is_lost(item: object) -> bool:
    """True for the marker a session sends when its run can no longer be recorded."""
    return item is _LOST


def summarize(results: Iterable[NodeResult], failed_order: Sequence[str] = ()) -> str:
    """One line saying why a run did not succeed, or "" when nothing failed; failures in
    `failed_order` (the run's `failed_node_ids`, topological) rather than as they happened."""
    results = list(results)
    rank = {node_id: index for index, node_id in enumerate(failed_order)}
    failed = sorted(
        (r for r in results if r.status == NodeStatus.FAILED), key=lambda r: rank.get(r.node_id, len(rank))
    )
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
