"""An in-process tail of recent events per watched run, so many watchers share one write and one
database poll.

Watchers subscribe before they read the database, so every event published here after that
moment is in the channel's buffer. Events are published by this replica's appends and by one
poller per watched run, which reads what other replicas appended: at once when the database
announces it (PostgreSQL), else on its next periodic read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from resumeflow_core.errors import UnavailableError
from resumeflow_core.reasons import SHUTTING_DOWN
from resumeflow_core.records import Event
from resumeflow_core.status import EventKind

MAX_BUFFERED_EVENTS = 100_000  # per run; past this, watchers fall back to the database


class RunChannel:
    """The buffered events of one run and a way to wait for more."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.subscribers = 0
        self.finished = False
        """True once the run's RUN_FINISHED event was published."""
        self.poller: asyncio.Task[None] | None = None
        self._poked = False
        self._changed = asyncio.Event()

    @property
    def first_sequence(self) -> int:
        return self.events[0].sequence if self.events else 0

    @property
    def last_sequence(self) -> int:
        return self.events[-1].sequence if self.events else 0

    def publish(self, events: Sequence[Event]) -> None:
        """Add events; ones already buffered are ignored (the poller and an append may overlap)."""
        added = False
        for event in events:
            if self.events and event.sequence <= self.events[-1].sequence:
                continue
            if self.events and event.sequence != self.events[-1].sequence + 1:
                self.events.clear()  # a gap: the buffer only holds contiguous events
            self.events.append(event)
            self.finished = self.finished or event.kind == EventKind.RUN_FINISHED
            added = True
        if len(self.events) > MAX_BUFFERED_EVENTS:
            del self.events[: len(self.events) - MAX_BUFFERED_EVENTS]
        if added:
            self._wake()

    def poke(self) -> None:
        """Say that the database holds events not published here yet (another replica's)."""
        self._poked = True
        self._wake()

    def take_poke(self) -> bool:
        """Whether `poke` was called since the last call of this."""
        poked, self._poked = self._poked, False
        return poked

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def after(self, sequence: int) -> list[Event] | None:
        """Buffered events after `sequence`, or None when the buffer does not reach back that far."""
        if not self.events or sequence + 1 < self.first_sequence:
            return None
        return self.events[sequence + 1 - self.first_sequence :]

    async def wait_after(self, sequence: int, timeout: float) -> bool:
        """Wait until an event after `sequence` is published (True) or `timeout` seconds pass (False)."""
        if self.events and self.events[-1].sequence > sequence:
            return True
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            return False
        return True


class EventHub:
    """Channels of the runs that have watchers in this process."""

    def __init__(self) -> None:
        self._channels: dict[str, RunChannel] = {}
        self.closed = False
        """True once the service began shutting down: every watch ends, new ones are refused."""

    def close(self) -> None:
        """End every watch of this process at once (they raise UnavailableError SHUTTING_DOWN),
        so clients reconnect to another replica while this one drains its writes."""
        self.closed = True
        for channel in self._channels.values():
            channel.poke()

    def raise_if_closed(self) -> None:
        """Raises UnavailableError (SHUTTING_DOWN) once `close` was called."""
        if self.closed:
            raise UnavailableError(
                "the history service is shutting down; reconnect (to another replica) to go on watching",
                reason=SHUTTING_DOWN,
            )

    def subscribe(self, run_id: str) -> RunChannel:
        channel = self._channels.setdefault(run_id, RunChannel())
        channel.subscribers += 1
        return channel

    def unsubscribe(self, run_id: str, channel: RunChannel) -> None:
        channel.subscribers -= 1
        if channel.subscribers == 0:
            if channel.poller is not None:
                channel.poller.cancel()
            if self._channels.get(run_id) is channel:
                del self._channels[run_id]

    def watched(self, run_id: str) -> bool:
        """Whether the run has watchers in this process."""
        return run_id in self._channels

    def announced(self, run_id: str, last_sequence: int) -> None:
        """A replica stored the run's events up to `last_sequence`; wake its poller if they are news."""
        channel = self._channels.get(run_id)
        if channel is not None and last_sequence > channel.last_sequence:
            channel.poke()

    def publish(self, run_id: str, events: Sequence[Event]) -> None:
        """Hand freshly stored events to the run's watchers; costs nothing when it has none."""
        channel = self._channels.get(run_id)
        if channel is not None and events:
            channel.publish(events)
