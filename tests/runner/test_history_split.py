"""The runner's history client splits a write over the message limit between events."""

from __future__ import annotations

from resumeflow.v1 import history_service_pb2 as pb
from resumeflow.v1 import run_pb2
from runner_service.history_client import _split


def request_of(nodes: list[str], blob: int) -> pb.AppendEventsRequest:
    request = pb.AppendEventsRequest(run_id="r1", runner_id="runner-1")
    for sequence, node_id in enumerate(nodes, start=2):
        request.events.add(run_id="r1", sequence=sequence, node_id=node_id)
    for node_id in dict.fromkeys(nodes):
        request.node_results.add(node_id=node_id).output.string_value = "x" * blob
    return request


def test_a_write_within_the_limit_is_sent_as_it_is() -> None:
    request = request_of(["a", "b"], 10)

    assert _split(request, 10_000) == [request]


def test_parts_stay_within_the_limit_keep_the_order_and_pair_each_result_with_its_node() -> None:
    request = request_of(["a", "b", "a", "c", "d", "c", "e"], 1000)

    parts = _split(request, 2500)

    assert len(parts) > 1 and all(part.ByteSize() <= 2500 for part in parts)
    assert [e.sequence for part in parts for e in part.events] == list(range(2, 9))
    assert all(part.run_id == "r1" and part.runner_id == "runner-1" for part in parts)
    for part in parts:
        # A result travels with the last event of its node: the one that left it in that state.
        last_events = {e.node_id: e.sequence for e in request.events}
        assert {r.node_id for r in part.node_results} == {
            e.node_id for e in part.events if last_events[e.node_id] == e.sequence
        }
    assert sorted(r.node_id for part in parts for r in part.node_results) == ["a", "b", "c", "d", "e"]


def test_a_finish_keeps_its_envelope_in_every_part() -> None:
    request = pb.FinishRunRequest(run_id="r1", runner_id="runner-1", error_summary="s" * 500)
    request.event.CopyFrom(run_pb2.Event(run_id="r1", sequence=9))
    for sequence in range(2, 6):
        request.events.add(run_id="r1", sequence=sequence, node_id=f"n{sequence}")
        request.node_results.add(node_id=f"n{sequence}").output.string_value = "x" * 1000

    parts = _split(request, 2000)

    assert len(parts) == 4 and all(part.ByteSize() <= 2000 for part in parts)
    assert parts[-1].event.sequence == 9 and parts[-1].error_summary == "s" * 500
