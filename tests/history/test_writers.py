"""ActiveWriters: a stopping history replica waits for the runs its runners still write."""

from __future__ import annotations

from history_service.writers import ActiveWriters


async def test_a_replica_with_no_run_being_written_is_idle_at_once() -> None:
    assert await ActiveWriters().wait_idle(0)


async def test_the_wait_ends_when_the_last_run_is_finished() -> None:
    writers = ActiveWriters()
    writers.wrote("a", lease_seconds=30)
    writers.wrote("b", lease_seconds=30)

    writers.finished("a")
    assert not await writers.wait_idle(0.05)  # b is still being written
    writers.finished("b")

    assert await writers.wait_idle(5)
    assert writers.active() == []


async def test_a_run_whose_lease_ran_out_since_its_last_write_is_not_waited_for() -> None:
    writers = ActiveWriters()
    writers.wrote("gone", lease_seconds=0.1)  # its runner died: it will not write again

    assert await writers.wait_idle(5)


async def test_each_write_renews_the_wait_by_the_runs_lease() -> None:
    writers = ActiveWriters()
    writers.wrote("r", lease_seconds=0.2)
    writers.wrote("r")  # an append keeps the lease length its creation gave

    assert not await writers.wait_idle(0.1)
    assert writers.active() == ["r"]
