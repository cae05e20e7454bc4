"""The runs whose runners write through this history replica, so a stopping replica can wait
until their ends are recorded before it exits."""

from __future__ import annotations

import asyncio
import contextlib
import time

DEFAULT_LEASE_SECONDS = 30.0  # a run first seen through an append is given this long


class ActiveWriters:
    """Runs created or appended to here and not finished; each is forgotten once its lease,
    counted from its last write here, has passed (its runner went away or writes elsewhere)."""

    def __init__(self) -> None:
        self._expiry: dict[str, tuple[float, float]] = {}
        """run id → (lease seconds, monotonic time the lease runs out)."""
        self._changed = asyncio.Event()

    def wrote(self, run_id: str, lease_seconds: float | None = None) -> None:
        """A runner wrote to the run (created it, appended events, renewed its lease)."""
        known = self._expiry.get(run_id)
        lease = lease_seconds or (known[0] if known else DEFAULT_LEASE_SECONDS)
        self._expiry[run_id] = (lease, time.monotonic() + lease)

    def finished(self, run_id: str) -> None:
        """The run's end is recorded: its runner writes no more."""
        if self._expiry.pop(run_id, None) is not None and not self._expiry:
            self._changed.set()

    def active(self) -> list[str]:
        """The runs whose runners may still write, after forgetting the expired ones."""
        now = time.monotonic()
        for run_id in [r for r, (_, expiry) in self._expiry.items() if expiry <= now]:
            del self._expiry[run_id]
        return list(self._expiry)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is active (True) or `timeout` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while active := self.active():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            soonest = min(self._expiry[run_id][1] for run_id in active) - time.monotonic()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):  # a lease ran out, or the time is up
                await asyncio.wait_for(self._changed.wait(), min(remaining, soonest))
        return True
