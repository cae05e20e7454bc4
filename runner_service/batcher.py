"""Records a run's events in order by group commit, and hands on only what the history stored.

A write starts as soon as the previous one is acknowledged and takes everything that arrived
meanwhile (at most MAX_BATCH_EVENTS): an idle run's event is written at once, a busy run's events
batch up by themselves while a write is in flight. Only acknowledged events go to `on_stored`
(the run's followers), so a stream never shows a sequence the store does not have.

While the history is unreachable, writes are retried without limit and events wait in memory, in
order; past MAX_PENDING_EVENTS the session stops starting nodes (`room()`) instead of dropping any.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from resumeflow_core.errors import ConflictError, ResumeflowError
from resumeflow_core.reasons import SEQUENCE_GAP
from resumeflow_core.records import Event, NodeResult
from runner_service import retry

T = TypeVar("T")

MAX_BATCH_EVENTS = 500
"""Events per write; a 1,000-node burst still reaches watchers in a few large messages."""
MAX_PENDING_EVENTS = 5_000
"""Unrecorded events a run may hold (a 1,000-node run makes about 2,000); beyond them it waits.
Memory stays small: a pending result refers to an output the executor holds anyway."""

Write = Callable[[list[Event], list[NodeResult]], Awaitable[bool]]
"""Writes one batch; returns True when the history asks the run to stop."""


class BatchWriteError(Exception):
    """The history refused a batch for good (lease lost, run finished); the run cannot be recorded."""


class EventBatcher:
    """Accepts events at any rate and writes them in order, in batches, in the background."""

    def __init__(
        self,
        write: Write,
        *,
        on_stored: Callable[[list[Event]], None] = lambda events: None,
        on_cancel_requested: Callable[[], None] = lambda: None,
        max_events: int | None = None,
        max_pending: int | None = None,
        name: str = "",
    ) -> None:
        """Start writing in the background.

        Args:
            write: Writes one batch.
            on_stored: Receives each batch once the history acknowledged it.
            on_cancel_requested: Called when the history says the run's cancellation was requested.
            max_events: Events per write (default MAX_BATCH_EVENTS).
            max_pending: Unacknowledged events before `full` (default MAX_PENDING_EVENTS).
            name: The run's id, for task names and warnings.
        """
        self._write = write
        self._on_stored = on_stored
        self._on_cancel_requested = on_cancel_requested
        self._max_events = max_events or MAX_BATCH_EVENTS
        self._max_pending = max_pending or MAX_PENDING_EVENTS
        self._name = name
        self._pending: deque[tuple[Event, NodeResult | None]] = deque()
        """Not acknowledged yet, in sequence order; the batch in flight is its head."""
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._first_stored = asyncio.Event()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"event-batcher-{name}")

    @property
    def full(self) -> bool:
        """Whether the backlog reached its bound; then await `room()` before adding more."""
        return len(self._pending) >= self._max_pending

    def add(self, event: Event, result: NodeResult | None = None) -> None:
        """Queue `event` (and the node result it changed) for writing.

        Raises:
            BatchWriteError: The history refused an earlier batch for good.
        """
        if self._task.done():
            self._task.result()
        self._pending.append((event, result))
        self._wakeup.set()

    async def room(self) -> None:
        """Wait until the backlog is below its bound again.

        Raises:
            BatchWriteError: The history refused a batch for good meanwhile.
        """
        while self.full and not self._task.done():
            self._room.clear()
            await self._room.wait()
        if self._task.done():
            self._task.result()

    async def first_stored(self, timeout: float) -> None:
        """Wait until the first batch is acknowledged (or the writer ended), at most `timeout`
        seconds; it may still be retried after that, in the background as any other."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_stored.wait(), timeout)

    async def stop(self) -> tuple[list[Event], list[NodeResult]]:
        """Stop after the write in flight, if any, and hand back what is not written yet.

        Raises:
            BatchWriteError: The history refused a batch for good.
        """
        self._stopping = True
        self._wakeup.set()
        await self._task
        rest = list(self._pending)
        self._pending.clear()
        return [event for event, _ in rest], newest_results(result for _, result in rest)

    def abort(self) -> None:
        self._task.cancel()

    async def _run(self) -> None:
        try:
            while True:
                while not self._pending and not self._stopping:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                if self._stopping:
                    return
                await self._write_head()
        finally:
            self._room.set()  # a waiting session learns the writer ended
            self._first_stored.set()

    async def _write_head(self) -> None:
        """Write the oldest pending events (one batch), then hand them on."""
        count = min(len(self._pending), self._max_events)
        batch = list(itertools.islice(self._pending, count))
        events = [event for event, _ in batch]
        results = newest_results(result for _, result in batch)
        what = f"writing {len(events)} events of run {self._name}"
        try:
            cancel_requested = await store_in_order(lambda rest: self._write(rest, results), events, what)
        except ResumeflowError as error:
            raise BatchWriteError(f"history refused events: {error.message}") from error
        for _ in range(count):
            self._pending.popleft()
        if not self.full:
            self._room.set()
        self._on_stored(events)
        self._first_stored.set()
        if cancel_requested:
            self._on_cancel_requested()


def newest_results(results: Iterable[NodeResult | None]) -> list[NodeResult]:
    """The last result of each node among `results`: the state a batch leaves it in."""
    return list({result.node_id: result for result in results if result is not None}.values())


async def store_in_order(
    write: Callable[[list[Event]], Awaitable[T]], events: list[Event], what: str
) -> T | None:
    """Write `events` with `write` until the history has them all.

    1. A transient failure (history unreachable, timed out): retried with backoff, without limit.
    2. SEQUENCE_GAP naming a sequence inside `events`: an earlier attempt stored the events before
       it (a write split in several messages); the others are written.
    3. SEQUENCE_GAP naming a sequence past `events`: an earlier attempt stored them all but its
       answer was lost; returns None.
    4. Any other refusal is raised.
    """
    while True:
        try:
            return await retry.until_done(functools.partial(write, events), what)  # case 1
        except ConflictError as error:
            rest = _unstored(error, events)
            if rest is None:  # case 4
                raise
            if not rest:  # case 3
                return None
            events = rest  # case 2


def _unstored(error: ConflictError, events: list[Event]) -> list[Event] | None:
    """The events the store still lacks when `error` says it has a prefix of them, else None."""
    expected = error.metadata.get("expected", "")
    if error.reason != SEQUENCE_GAP or not expected.isdigit() or not events:
        return None
    if int(expected) <= events[0].sequence:
        return None  # the store is behind this batch: a real gap
    return [event for event in events if event.sequence >= int(expected)]
