"""Proto ↔ domain conversions that the services apply to every event and node result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from hypothesis import given
from hypothesis import strategies as st

from resumeflow.v1 import history_service_pb2, run_pb2
from resumeflow_core.errors import InvalidArgumentError
from resumeflow_core.records import Event, NodeError, NodeResult
from resumeflow_core.rpc import convert
from resumeflow_core.status import EventKind, NodeStatus, RunStatus

aware_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(aware_times)
def test_timestamps_agree_with_protobufs_own_conversion(value: datetime) -> None:
    reference = timestamp_pb2.Timestamp()
    reference.FromDatetime(value)
    assert convert.timestamp(value) == reference
    assert convert.from_timestamp(reference) == reference.ToDatetime(tzinfo=UTC) == value


def test_an_offset_time_is_the_same_instant() -> None:
    paris = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    assert convert.from_timestamp(convert.timestamp(paris)) == paris  # type: ignore[arg-type]
    assert convert.from_timestamp(convert.timestamp(paris)).tzinfo is UTC  # type: ignore[arg-type, union-attr]


def test_a_naive_time_is_taken_as_local_time() -> None:
    naive = datetime(2026, 3, 1, 12, 0, 0, 250)
    assert convert.timestamp(naive) == convert.timestamp(naive.astimezone(UTC))


def test_nanoseconds_are_truncated_to_microseconds() -> None:
    message = timestamp_pb2.Timestamp(seconds=-1, nanos=999_999_999)
    assert convert.from_timestamp(message) == datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


def test_an_absent_time_is_none() -> None:
    assert convert.timestamp(None) is None
    assert convert.from_timestamp(timestamp_pb2.Timestamp(), present=False) is None


def test_event_round_trip() -> None:
    event = Event(
        run_id="r1",
        sequence=7,
        time=datetime(2026, 11, 26, 18, 0, 0, 123_456, tzinfo=UTC),
        kind=EventKind.NODE_STATUS,
        node_id="fetch",
        node_status=NodeStatus.FAILED,
        attempt=2,
        message="boom",
        run_status=RunStatus.UNSPECIFIED,
    )
    back = convert.event_from_proto(convert.event_to_proto(event))
    assert back == event
    assert type(back.kind) is EventKind and type(back.node_status) is NodeStatus


def test_an_unknown_enum_value_is_refused() -> None:
    message = convert.event_to_proto(
        Event(run_id="r1", sequence=1, time=datetime.now(UTC), kind=EventKind.RUN_STARTED)
    )
    message.node_status = 99  # type: ignore[assignment]
    with pytest.raises(InvalidArgumentError, match="99") as raised:
        convert.event_from_proto(message, "events[3]")
    assert [(v.field, v.reason) for v in raised.value.violations] == [
        ("events[3].node_status", "UNKNOWN_ENUM_VALUE")
    ]


def test_node_result_variables_empty_and_not() -> None:
    empty = run_pb2.NodeResult(node_id="a", status=run_pb2.NODE_STATUS_SUCCEEDED)
    assert convert.node_result_from_proto(empty).variables == {}
    full = run_pb2.NodeResult(node_id="a", variables=struct_pb2.Struct())
    full.variables.update({"count": 3, "name": "x"})
    result = convert.node_result_from_proto(full)
    assert result.variables == {"count": 3, "name": "x"} and isinstance(result, NodeResult)


def test_results_and_events_appended_in_place_equal_the_built_messages() -> None:
    now = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
    results = [
        NodeResult("a", NodeStatus.RUNNING, 1, start_time=now),
        NodeResult(
            "b",
            NodeStatus.FAILED,
            2,
            start_time=now,
            end_time=now + timedelta(seconds=1),
            output={"status": 500, "body": ["x", 1.5]},
            variables={"total": 3},
            error=NodeError("HTTP_STATUS", "500"),
            source_run_id="r0",
            finish_sequence=9,
            definition_hash="h",
        ),
    ]
    events = [
        Event(run_id="r1", sequence=1, time=now, kind=EventKind.RUN_STARTED),
        Event(run_id="r1", sequence=2, time=now, kind=EventKind.NODE_STATUS, node_id="a", attempt=1),
    ]
    request = history_service_pb2.AppendEventsRequest()
    convert.add_node_results(request.node_results, results)
    convert.add_events(request.events, events)

    assert list(request.node_results) == [convert.node_result_to_proto(r) for r in results]
    assert list(request.events) == [convert.event_to_proto(e) for e in events]
    assert [convert.node_result_from_proto(m) for m in request.node_results] == results
    assert [convert.event_from_proto(m) for m in request.events] == events


def violation(call: object, *args: object) -> tuple[str, str]:
    """The (field, reason) of the one violation `call(*args)` is refused with."""
    with pytest.raises(InvalidArgumentError) as raised:
        call(*args)  # type: ignore[operator]
    (only,) = raised.value.violations
    return only.field, only.reason


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("", "REQUIRED", id="empty"),
        pytest.param("a\x00b", "INVALID_CHARACTER", id="nul"),
        pytest.param("x" * 201, "TOO_LONG", id="too-long"),
    ],
)
def test_an_id_that_no_database_can_hold_is_refused(value: str, reason: str) -> None:
    assert violation(convert.identifier, value, "run_id") == ("run_id", reason)


def test_ids_at_the_limits_pass() -> None:
    assert convert.identifier("é" * 200, "run_id") == "é" * 200
    assert convert.identifier("", "request_id", required=False) == ""


def test_times_durations_and_numbers_out_of_range_are_refused() -> None:
    too_late = timestamp_pb2.Timestamp(seconds=253_402_300_800)
    assert violation(convert.from_timestamp, too_late, True, "event.time") == ("event.time", "OUT_OF_RANGE")
    ancient = timestamp_pb2.Timestamp(seconds=-62_135_596_801)
    assert violation(convert.from_timestamp, ancient, True, "t") == ("t", "OUT_OF_RANGE")
    endless = duration_pb2.Duration(seconds=10**15)
    assert violation(convert.seconds, endless, "lease_duration") == ("lease_duration", "OUT_OF_RANGE")
    assert violation(convert.count, 2**31, "version") == ("version", "OUT_OF_RANGE")
    assert violation(convert.count, -1, "version") == ("version", "OUT_OF_RANGE")
    assert convert.count(2**31 - 1, "version") == 2**31 - 1


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_a_struct_holding_a_number_json_cannot_is_refused(number: float) -> None:
    message = struct_pb2.Struct()
    message.update({"deep": [{"x": number}]})
    assert violation(convert.from_struct, message, "inputs") == ("inputs", "NOT_FINITE")


def test_nested_bad_fields_are_named_by_their_path() -> None:
    run = run_pb2.Run(workflow_id="w", status=2, node_results=[run_pb2.NodeResult(node_id="a", status=42)])
    assert violation(convert.run_from_proto, run) == ("run.node_results[0].status", "UNKNOWN_ENUM_VALUE")
    event = run_pb2.Event(sequence=1, kind=1, message="a\x00b")
    assert violation(convert.events_from_proto, [event], "events") == (
        "events[0].message",
        "INVALID_CHARACTER",
    )
