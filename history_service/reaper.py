"""Fails runs whose runner stopped renewing its lease (RUNNER_LOST), without ever blaming a
runner for the history's own absence.

A run's lease can only be renewed while some history replica answers. So a replica expires a
lease only once it has itself been up and responsive for a whole lease period of that run (its
*watch*): a runner alive through a history outage reconnects and renews its lease within that
period and is never expired, while a runner that is really gone is expired within about a lease
period plus the watch. The watch starts over whenever the replica may have been unreachable:

1. at start-up (a restart, or a replica that was down);
2. after a stall: the process was frozen (SIGSTOP) or starved, seen as a tick much later than
   asked for (the monotonic clock keeps counting while a process is stopped);
3. after a failed or stalled database check.

Expiry itself compares with the database's clock (see the store), never this process's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between database checks for expired leases
TICK = 0.25  # seconds between wake-ups that confirm the process keeps running
STALL = 1.0  # seconds of lateness that count as a stall and restart the watch

Find = Callable[[float], Awaitable[tuple[datetime, list[tuple[str, str]]]]]
"""Runs whose lease ran out, among those of at most the given length: (database time, runs)."""
Expire = Callable[[list[tuple[str, str]], datetime], Awaitable[list[str]]]
"""Fails the given runs if still expired at the given database time; returns those it failed."""


class LeaseReaper:
    """Checks for expired leases every CHECK_INTERVAL, expiring only what this replica watched."""

    def __init__(
        self,
        find: Find,
        expire: Expire,
        *,
        check_interval: float = CHECK_INTERVAL,
        tick: float = TICK,
        stall: float = STALL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._find = find
        self._expire = expire
        self._check_interval = check_interval
        self._tick = tick
        self._stall = stall
        self._clock = clock
        self._since = clock()
        """When the current watch started, by the monotonic clock."""

    @property
    def watched(self) -> float:
        """Seconds this replica has been watching without a break."""
        return self._clock() - self._since

    def restart_watch(self, why: str) -> None:
        log.info("lease expiry waits a full lease period again: %s", why)
        self._since = self._clock()

    async def run(self) -> None:
        """Tick and check forever (cancel to stop)."""
        self._since = self._clock()
        next_check = self._since + self._check_interval
        while True:
            before = self._clock()
            await asyncio.sleep(self._tick)
            late = self._clock() - before - self._tick
            if late > self._stall:  # case 2
                self.restart_watch(f"this process stalled for {late:.1f}s")
            if self._clock() >= next_check:
                await self.check()
                next_check = self._clock() + self._check_interval

    async def check(self) -> list[str]:
        """Expire the runs whose lease ran out and whose lease period this replica watched.

        Returns:
            The ids of the runs failed.
        """
        started = self._clock()
        try:
            now, candidates = await self._find(started - self._since)
        except Exception:  # case 3: the runners may not have reached the database either
            log.exception("checking for expired leases failed")
            self.restart_watch("the database check failed")
            return []
        if self._clock() - started > self._stall:
            # Frozen mid-check, the answer may pair a stale watch with a fresh database time.
            self.restart_watch("the database check stalled")  # case 3
            return []
        if not candidates:
            return []
        try:
            expired = await self._expire(candidates, now)
        except Exception:
            log.exception("expiring leases failed")
            self.restart_watch("expiring leases failed")
            return []
        if expired:
            log.warning("runs lost their runner and were failed: %s", ", ".join(expired))
        return expired
