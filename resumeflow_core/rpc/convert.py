"""Conversion between the shared protobuf messages and the domain dataclasses, both directions.

Messages from clients are checked on the way in: every `*_from_proto` and field helper raises
InvalidArgumentError, naming the field, for a value no layer below can take (an unknown enum
value, a time or duration out of range, a NaN in a Struct, an id too long or holding NUL, a number
beyond what the database stores), so nothing below meets one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.json_format import MessageToDict, ParseDict

from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow_core.errors import FieldViolation, InvalidArgumentError
from resumeflow_core.limits import MAX_ID_LENGTH, MAX_STORED_INT, id_problem, text_problem
from resumeflow_core.reasons import OUT_OF_RANGE, REQUIRED
from resumeflow_core.records import Event, NodeError, NodeResult, Run
from resumeflow_core.status import EventKind, NodeStatus, ResumeMode, RunStatus
from resumeflow_core.workflow import DEFAULT_BACKOFF_MULTIPLIER, Edge, Node, RetryPolicy, Workflow

_Enum = TypeVar("_Enum", bound=enum.IntEnum)

# --- scalars -----------------------------------------------------------------------------------


# Timestamps are converted by hand: Timestamp.FromDatetime / ToDatetime go through calendar and
# time tuples and cost several times more, which every event pays on every hop.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The ranges google.protobuf.Timestamp and Duration define (0001-01-01 to 9999-12-31, ±10,000 years).
_MIN_TIMESTAMP_SECONDS = -62_135_596_800
_MAX_TIMESTAMP_SECONDS = 253_402_300_799
_MAX_DURATION_SECONDS = 315_576_000_000
_NANOS = 1_000_000_000


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """A datetime as a Timestamp; a naive one is taken as local time, as `astimezone` does."""
    if value is None:
        return None
    seconds, nanos = _since_epoch(value)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def _set_time(field: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Fill a message's Timestamp field in place (no Timestamp to build and copy)."""
    field.seconds, field.nanos = _since_epoch(value)


def _since_epoch(value: datetime) -> tuple[int, int]:
    if value.tzinfo is None:
        value = value.astimezone(UTC)
    since = value - _EPOCH
    return since.days * 86_400 + since.seconds, since.microseconds * 1000


def from_timestamp(
    message: timestamp_pb2.Timestamp, present: bool = True, field: str = "time"
) -> datetime | None:
    """A Timestamp as an aware UTC datetime, truncated to microseconds.

    Raises:
        InvalidArgumentError: The Timestamp is outside 0001-01-01 to 9999-12-31.
    """
    if not present:
        return None
    if not (
        _MIN_TIMESTAMP_SECONDS <= message.seconds <= _MAX_TIMESTAMP_SECONDS and 0 <= message.nanos < _NANOS
    ):
        raise invalid(field, "must be a time from 0001-01-01 to 9999-12-31", OUT_OF_RANGE)
    return _EPOCH + timedelta(seconds=message.seconds, microseconds=message.nanos // 1000)


def duration(seconds: float | None) -> duration_pb2.Duration | None:
    if seconds is None:
        return None
    message = duration_pb2.Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def seconds(message: duration_pb2.Duration, field: str = "duration") -> float:
    """A Duration in seconds.

    Raises:
        InvalidArgumentError: The Duration is outside ±10,000 years or its nanos disagree.
    """
    if not (
        -_MAX_DURATION_SECONDS <= message.seconds <= _MAX_DURATION_SECONDS
        and -_NANOS < message.nanos < _NANOS
    ):
        raise invalid(field, "must be a duration within ±10,000 years", OUT_OF_RANGE)
    return float(message.ToNanoseconds()) / 1e9


def _integral(value: Any) -> Any:
    """Struct keeps every number as a double: give integral ones their int type back."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    if value:
        message.update(_jsonable(value))
    return message


def from_struct(message: struct_pb2.Struct, field: str = "struct") -> dict[str, Any]:
    """A Struct as a dict.

    Raises:
        InvalidArgumentError: It holds NaN or an infinity, which JSON (and so the database) cannot.
    """
    if not message.fields:  # most node results carry no variables: skip json_format's walk
        return {}
    return dict(_integral(_to_json(message, field)))


def value(item: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    ParseDict(_jsonable(item), message)
    return message


def from_value(message: struct_pb2.Value, field: str = "value") -> Any:
    """A Value as plain data; raises InvalidArgumentError as `from_struct` does."""
    if message.WhichOneof("kind") is None:
        return None
    return _integral(_to_json(message, field))


def _to_json(message: struct_pb2.Struct | struct_pb2.Value, field: str) -> Any:
    try:
        return MessageToDict(message)
    except ValueError as exc:  # json_format's only refusal of a Struct: a number that is not finite
        raise invalid(field, "must hold finite numbers only (no NaN or infinity)", "NOT_FINITE") from exc


def _jsonable(item: Any) -> Any:
    """Values a Struct cannot hold (bytes, datetimes, tuples…) become JSON-friendly ones."""
    if item is None or isinstance(item, bool | int | float | str):
        return item
    if isinstance(item, Mapping):
        return {str(key): _jsonable(child) for key, child in item.items()}
    if isinstance(item, list | tuple | set | frozenset):
        return [_jsonable(child) for child in item]
    if isinstance(item, datetime):
        return item.isoformat()
    return str(item)


# --- workflows ---------------------------------------------------------------------------------


def workflow_from_proto(message: workflow_pb2.Workflow) -> Workflow:
    """Convert a client's workflow; a config that is not valid JSON data is an INVALID_ARGUMENT."""
    return Workflow(
        id=message.id,
        name=message.name,
        version=message.version,
        nodes=tuple(_node_from_proto(node, f"workflow.nodes[{i}]") for i, node in enumerate(message.nodes)),
        edges=tuple(Edge(edge.source, edge.target, edge.branch) for edge in message.edges),
        create_time=from_timestamp(
            message.create_time, message.HasField("create_time"), "workflow.create_time"
        ),
        update_time=from_timestamp(
            message.update_time, message.HasField("update_time"), "workflow.update_time"
        ),
    )


def _node_from_proto(message: workflow_pb2.Node, path: str) -> Node:
    retry = None
    if message.HasField("retry"):
        policy = message.retry
        retry = RetryPolicy(
            max_attempts=policy.max_attempts or 1,  # 0 means the default: one attempt
            initial_backoff=seconds(policy.initial_backoff, f"{path}.retry.initial_backoff"),
            backoff_multiplier=policy.backoff_multiplier or DEFAULT_BACKOFF_MULTIPLIER,
            max_backoff=(
                seconds(policy.max_backoff, f"{path}.retry.max_backoff")
                if policy.HasField("max_backoff")
                else None
            ),
        )
    return Node(
        id=message.id,
        type=message.type,
        label=message.label,
        config=from_struct(message.config, f"{path}.config"),
        retry=retry,
        timeout=seconds(message.timeout, f"{path}.timeout") if message.HasField("timeout") else None,
    )


def workflow_to_proto(workflow: Workflow) -> workflow_pb2.Workflow:
    return workflow_pb2.Workflow(
        id=workflow.id,
        name=workflow.name,
        version=workflow.version,
        nodes=[_node_to_proto(node) for node in workflow.nodes],
        edges=[workflow_pb2.Edge(source=e.source, target=e.target, branch=e.branch) for e in workflow.edges],
        create_time=timestamp(workflow.create_time),
        update_time=timestamp(workflow.update_time),
    )


def _node_to_proto(node: Node) -> workflow_pb2.Node:
    retry = None
    if node.retry is not None:
        retry = workflow_pb2.RetryPolicy(
            max_attempts=node.retry.max_attempts,
            initial_backoff=duration(node.retry.initial_backoff),
            backoff_multiplier=node.retry.backoff_multiplier,
            max_backoff=duration(node.retry.max_backoff),
        )
    return workflow_pb2.Node(
        id=node.id,
        type=node.type,
        label=node.label,
        config=struct(node.config),
        retry=retry,
        timeout=duration(node.timeout),
    )


# --- runs, node results, events -----------------------------------------------------------------


def node_result_to_proto(result: NodeResult) -> run_pb2.NodeResult:
    message = run_pb2.NodeResult()
    _fill_node_result(message, result)
    return message


def add_node_results(
    field: RepeatedCompositeFieldContainer[run_pb2.NodeResult], results: Iterable[NodeResult]
) -> None:
    """Append `results` to a repeated NodeResult field, each filled in place."""
    add = field.add
    for result in results:
        _fill_node_result(add(), result)


def _fill_node_result(message: run_pb2.NodeResult, result: NodeResult) -> None:
    # Filled in place, optional parts only when present: every node's result crosses twice per
    # run, and a message built apart and then copied into a repeated field costs twice as much.
    message.node_id = result.node_id
    message.status = result.status  # type: ignore[assignment]
    message.attempts = result.attempts
    if result.start_time is not None:
        _set_time(message.start_time, result.start_time)
    if result.end_time is not None:
        _set_time(message.end_time, result.end_time)
    if result.output is not None:
        message.output.CopyFrom(value(result.output))
    if result.variables:
        message.variables.CopyFrom(struct(result.variables))
    if result.error:
        message.error.code = result.error.code
        message.error.message = result.error.message
    message.source_run_id = result.source_run_id
    message.finish_sequence = result.finish_sequence
    message.definition_hash = result.definition_hash


def node_result_from_proto(message: run_pb2.NodeResult, path: str = "node_result") -> NodeResult:
    error = None
    if message.HasField("error"):
        error = NodeError(
            _text(message.error.code, path, "error.code"), _text(message.error.message, path, "error.message")
        )
    return NodeResult(
        node_id=_id(message.node_id, path, "node_id"),
        status=_member(NodeStatus, message.status, path, "status"),
        attempts=message.attempts,
        start_time=from_timestamp(message.start_time, message.HasField("start_time"), f"{path}.start_time"),
        end_time=from_timestamp(message.end_time, message.HasField("end_time"), f"{path}.end_time"),
        output=from_value(message.output, f"{path}.output") if message.HasField("output") else None,
        variables=from_struct(message.variables, f"{path}.variables"),
        error=error,
        source_run_id=_id(message.source_run_id, path, "source_run_id"),
        finish_sequence=_count(message.finish_sequence, path, "finish_sequence"),
        definition_hash=_text(message.definition_hash, path, "definition_hash"),
    )


def node_results_from_proto(messages: Iterable[run_pb2.NodeResult], field: str) -> list[NodeResult]:
    """The results of a repeated field named `field`."""
    return [node_result_from_proto(message, f"{field}[{i}]") for i, message in enumerate(messages)]


def event_to_proto(event: Event) -> run_pb2.Event:
    message = run_pb2.Event()
    _fill_event(message, event)
    return message


def add_events(field: RepeatedCompositeFieldContainer[run_pb2.Event], events: Iterable[Event]) -> None:
    """Append `events` to a repeated Event field, each filled in place."""
    add = field.add
    for event in events:
        _fill_event(add(), event)


def _fill_event(message: run_pb2.Event, event: Event) -> None:
    message.run_id = event.run_id
    message.sequence = event.sequence
    _set_time(message.time, event.time)
    message.kind = event.kind  # type: ignore[assignment]
    message.node_id = event.node_id
    message.node_status = event.node_status  # type: ignore[assignment]
    message.attempt = event.attempt
    message.message = event.message
    message.run_status = event.run_status  # type: ignore[assignment]


def event_from_proto(message: run_pb2.Event, path: str = "event") -> Event:
    return Event(
        run_id=_id(message.run_id, path, "run_id"),
        sequence=_count(message.sequence, path, "sequence"),
        time=from_timestamp(message.time, True, f"{path}.time"),  # type: ignore[arg-type]
        kind=_member(EventKind, message.kind, path, "kind"),
        node_id=_id(message.node_id, path, "node_id"),
        node_status=_member(NodeStatus, message.node_status, path, "node_status"),
        attempt=message.attempt,
        message=_text(message.message, path, "message"),
        run_status=_member(RunStatus, message.run_status, path, "run_status"),
    )


def events_from_proto(messages: Iterable[run_pb2.Event], field: str) -> list[Event]:
    """The events of a repeated field named `field`."""
    return [event_from_proto(message, f"{field}[{i}]") for i, message in enumerate(messages)]


def run_to_proto(run: Run, *, with_results: bool = True) -> run_pb2.Run:
    message = run_pb2.Run(
        id=run.id,
        workflow_id=run.workflow_id,
        workflow_version=run.workflow_version,
        status=int(run.status),  # type: ignore[arg-type]
        create_time=timestamp(run.create_time),
        start_time=timestamp(run.start_time),
        end_time=timestamp(run.end_time),
        inputs=struct(run.inputs),
        environment=run_pb2.Environment(name=run.environment_name, values=run.environment),
        failed_node_ids=run.failed_node_ids,
        variables=struct(run.variables),
        error_summary=run.error_summary,
        request_id=run.request_id,
        resume_from_run_id=run.resume_from_run_id,
        resume_from_node_ids=run.resume_from_node_ids,
        resume_mode=int(run.resume_mode),  # type: ignore[arg-type]
        root_run_id=run.root_run_id,
        lineage_depth=run.lineage_depth,
        last_sequence=run.last_sequence,
    )
    if with_results:
        add_node_results(message.node_results, run.node_results)
    return message


def run_from_proto(message: run_pb2.Run, path: str = "run") -> Run:
    return Run(
        id=_id(message.id, path, "id"),
        workflow_id=_id(message.workflow_id, path, "workflow_id"),
        workflow_version=_count(message.workflow_version, path, "workflow_version"),
        status=_member(RunStatus, message.status, path, "status"),
        create_time=from_timestamp(
            message.create_time, message.HasField("create_time"), f"{path}.create_time"
        ),
        start_time=from_timestamp(message.start_time, message.HasField("start_time"), f"{path}.start_time"),
        end_time=from_timestamp(message.end_time, message.HasField("end_time"), f"{path}.end_time"),
        inputs=from_struct(message.inputs, f"{path}.inputs"),
        environment_name=_text(message.environment.name, path, "environment.name"),
        environment=dict(message.environment.values),
        failed_node_ids=identifiers(message.failed_node_ids, f"{path}.failed_node_ids"),
        variables=from_struct(message.variables, f"{path}.variables"),
        error_summary=_text(message.error_summary, path, "error_summary"),
        request_id=_id(message.request_id, path, "request_id"),
        resume_from_run_id=_id(message.resume_from_run_id, path, "resume_from_run_id"),
        resume_from_node_ids=identifiers(message.resume_from_node_ids, f"{path}.resume_from_node_ids"),
        resume_mode=_member(ResumeMode, message.resume_mode, path, "resume_mode"),
        root_run_id=_id(message.root_run_id, path, "root_run_id"),
        lineage_depth=_count(message.lineage_depth, path, "lineage_depth"),
        last_sequence=_count(message.last_sequence, path, "last_sequence"),
        node_results=node_results_from_proto(message.node_results, f"{path}.node_results"),
    )


# --- request fields ----------------------------------------------------------------------------


def identifier(value: str, field: str, *, required: bool = True) -> str:
    """Return an id field; raise INVALID_ARGUMENT naming it when it is empty (and `required`),
    too long or holds NUL."""
    if not value:
        if required:
            raise invalid(field, "must not be empty", REQUIRED)
        return value
    problem = id_problem(value)
    if problem is not None:
        raise invalid(field, *problem)
    return value


def identifiers(values: Iterable[str], field: str) -> list[str]:
    """The ids of a repeated field, each checked as `identifier` does."""
    found = list(values)
    # A fresh run sends a thousand node ids: the field is named only once one is found bad.
    if not all(value and id_problem(value) is None for value in found):
        for i, value in enumerate(found):
            identifier(value, f"{field}[{i}]")
    return found


def text(value: str, field: str) -> str:
    """Return a free-text field; raise INVALID_ARGUMENT when it holds what no database stores."""
    problem = text_problem(value)
    if problem is not None:
        raise invalid(field, *problem)
    return value


def member(kind: type[_Enum], value: int, field: str) -> _Enum:
    """The member of `kind` numbered `value`; INVALID_ARGUMENT for a number the enum lacks."""
    found = kind._value2member_map_.get(value)
    if found is None:
        raise invalid(field, f"must be a known {kind.__name__} value, not {value}", "UNKNOWN_ENUM_VALUE")
    return found  # type: ignore[return-value]


def count(value: int, field: str) -> int:
    """A version, sequence or count: INVALID_ARGUMENT outside 0 to MAX_STORED_INT."""
    if not 0 <= value <= MAX_STORED_INT:
        raise invalid(field, f"must be from 0 to {MAX_STORED_INT}, not {value}", OUT_OF_RANGE)
    return value


def invalid(field: str, description: str, reason: str) -> InvalidArgumentError:
    """The INVALID_ARGUMENT error of one bad field."""
    return InvalidArgumentError(
        f"{field} {description}", violations=[FieldViolation(field, description, reason)]
    )


# The checks of nested fields build the field's path only when they fail: an append of a thousand
# events runs them thousands of times.


def _id(value: str, path: str, name: str) -> str:
    if value and (len(value) > MAX_ID_LENGTH or "\x00" in value):
        identifier(value, f"{path}.{name}")
    return value


def _text(value: str, path: str, name: str) -> str:
    if "\x00" in value:
        text(value, f"{path}.{name}")
    return value


def _member(kind: type[_Enum], value: int, path: str, name: str) -> _Enum:
    found = kind._value2member_map_.get(value)
    return found if found is not None else member(kind, value, f"{path}.{name}")  # type: ignore[return-value]


def _count(value: int, path: str, name: str) -> int:
    return value if 0 <= value <= MAX_STORED_INT else count(value, f"{path}.{name}")
