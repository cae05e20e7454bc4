"""The event batcher writes by group commit and hands on only what was written."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from resumeflow_core.errors import ConflictError
from resumeflow_core.records import Event, NodeResult
from resumeflow_core.status import EventKind, NodeStatus
from runner_service.batcher import EventBatcher, store_in_order


def event(sequence: int, node_id: str = "n") -> Event:
    return Event("r1", sequence, datetime.now(UTC), EventKind.NODE_STATUS, node_id=node_id)


class GatedWrite:
    """A write that waits for the test to open its gate, recording each batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.results: list[list[NodeResult]] = []
        self.gate = asyncio.Event()

    async def __call__(self, events: list[Event], results: list[NodeResult]) -> bool:
        self.batches.append([e.sequence for e in events])
        self.results.append(results)
        await self.gate.wait()
        self.gate.clear()
        return False


async def test_an_idle_writer_writes_at_once_and_later_events_form_the_next_batch() -> None:
    write = GatedWrite()
    stored: list[int] = []
    batcher = EventBatcher(write, on_stored=lambda events: stored.extend(e.sequence for e in events))

    batcher.add(event(2))
    await asyncio.sleep(0)
    for sequence in (3, 4, 5):
        batcher.add(event(sequence))
    await asyncio.sleep(0)

    assert write.batches == [[2]] and stored == []  # written at once, not yet acknowledged
    write.gate.set()
    await asyncio.sleep(0.01)
    assert write.batches == [[2], [3, 4, 5]] and stored == [2]
    write.gate.set()
    assert await batcher.stop() == ([], [])
    assert stored == [2, 3, 4, 5]


async def test_a_batch_is_bounded_and_carries_the_newest_result_of_each_node() -> None:
    write = GatedWrite()
    batcher = EventBatcher(write, max_events=3)
    write.gate.set()
    batcher.add(event(2, "a"), NodeResult("a", NodeStatus.RUNNING))
    batcher.add(event(3, "a"), NodeResult("a", NodeStatus.SUCCEEDED))
    batcher.add(event(4, "b"), NodeResult("b", NodeStatus.RUNNING))
    batcher.add(event(5, "b"), NodeResult("b", NodeStatus.SUCCEEDED))
    await asyncio.sleep(0.01)

    assert write.batches[0] == [2, 3, 4]
    assert {r.node_id: r.status for r in write.results[0]} == {
        "a": NodeStatus.SUCCEEDED,
        "b": NodeStatus.RUNNING,
    }
    write.gate.set()
    await batcher.stop()


async def test_a_write_whose_prefix_is_stored_continues_after_it() -> None:
    sent: list[list[int]] = []

    async def write(events: list[Event]) -> str:
        sent.append([e.sequence for e in events])
        if events[0].sequence < 5:
            raise ConflictError("gap", reason="SEQUENCE_GAP", metadata={"expected": "5", "got": "2"})
        return "done"

    assert await store_in_order(write, [event(s) for s in range(2, 8)], "test") == "done"
    assert sent == [[2, 3, 4, 5, 6, 7], [5, 6, 7]]


@pytest.mark.parametrize(
    ("expected", "outcome"),
    [pytest.param("8", None, id="all-stored"), pytest.param("1", ConflictError, id="real-gap")],
)
async def test_a_sequence_gap_past_or_before_the_batch(expected: str, outcome: object) -> None:
    async def write(events: list[Event]) -> str:
        raise ConflictError("gap", reason="SEQUENCE_GAP", metadata={"expected": expected, "got": "2"})

    events = [event(s) for s in range(2, 8)]
    if outcome is None:
        assert await store_in_order(write, events, "test") is None
    else:
        with pytest.raises(ConflictError):
            await store_in_order(write, events, "test")
