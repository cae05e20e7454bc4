"""The lease reaper expires only leases this replica watched for their whole length, and starts
watching again after anything that may have kept runners from renewing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from history_service.reaper import LeaseReaper

DB_TIME = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The monotonic clock, plus jumps a test makes (the time a frozen process did not see pass)."""

    def __init__(self) -> None:
        self.jumped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.jumped


class FakeStore:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.watched: list[float] = []
        self.expired: list[tuple[list[tuple[str, str]], datetime]] = []
        self.fail_next = False
        self.stall_next = 0.0

    async def find(self, watched_seconds: float) -> tuple[datetime, list[tuple[str, str]]]:
        self.watched.append(watched_seconds)
        if self.fail_next:
            self.fail_next = False
            raise OSError("database unreachable")
        self.clock.jumped += self.stall_next
        self.stall_next = 0.0
        return DB_TIME, [("run-1", "runner-1")]

    async def expire(self, candidates: list[tuple[str, str]], now: datetime) -> list[str]:
        self.expired.append((candidates, now))
        return [run_id for run_id, _ in candidates]


def reaper_of(store: FakeStore, clock: Clock) -> LeaseReaper:
    return LeaseReaper(store.find, store.expire, check_interval=0.02, tick=0.01, stall=0.5, clock=clock)


async def test_a_check_asks_only_for_leases_no_longer_than_the_watch_and_expires_at_the_database_time() -> (
    None
):
    clock = Clock()
    store = FakeStore(clock)
    reaper = reaper_of(store, clock)
    clock.jumped += 5

    assert await reaper.check() == ["run-1"]

    assert 5 <= store.watched[0] < 6
    assert store.expired == [([("run-1", "runner-1")], DB_TIME)]


async def test_a_failed_database_check_restarts_the_watch() -> None:
    clock = Clock()
    store = FakeStore(clock)
    reaper = reaper_of(store, clock)
    clock.jumped += 5
    store.fail_next = True

    assert await reaper.check() == []

    assert reaper.watched < 1
    assert store.expired == []


async def test_a_check_that_stalled_expires_nothing_and_restarts_the_watch() -> None:
    """Frozen mid-check, the database's answer would pair a stale watch with a fresh time."""
    clock = Clock()
    store = FakeStore(clock)
    reaper = reaper_of(store, clock)
    clock.jumped += 5
    store.stall_next = 2.0

    assert await reaper.check() == []

    assert reaper.watched < 1
    assert store.expired == []


async def test_a_late_tick_restarts_the_watch_before_the_next_check() -> None:
    clock = Clock()
    store = FakeStore(clock)
    reaper = reaper_of(store, clock)
    task = asyncio.create_task(reaper.run())
    try:
        await asyncio.sleep(0.1)
        clock.jumped += 30  # SIGSTOP for 30 s: the monotonic clock went on, the process did not
        await asyncio.sleep(0.1)
    finally:
        task.cancel()

    assert store.watched
    assert max(store.watched) < 1  # never 30 s: the watch started over on waking
