"""Small conversions between protobuf well-known types and plain Python values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

# Up to this magnitude a double holds every integer exactly.
_MAX_EXACT_INTEGER = 2**53


def value_to_python(value: struct_pb2.Value) -> Any:
    """A `google.protobuf.Value` as JSON-like Python: dict, list, str, int/float, bool or None.

    Struct numbers are doubles; integral ones come back as `int`, as they were most likely written.
    """
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [value_to_python(item) for item in value.list_value.values]
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) <= _MAX_EXACT_INTEGER else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A `google.protobuf.Struct` as a plain dict."""
    return {key: value_to_python(item) for key, item in struct.fields.items()}


def dict_to_struct(values: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """A mapping of JSON-compatible values as a `google.protobuf.Struct`.

    Raises:
        ValueError: A value is not JSON-compatible.
    """
    struct = struct_pb2.Struct()
    if values:
        try:
            struct.update(dict(values))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not JSON-compatible: {exc}") from exc
    return struct


def timestamp_to_datetime(message: Any, field: str) -> dt.datetime | None:
    """The timestamp `field` of `message` as an aware UTC datetime, or None when unset."""
    if not message.HasField(field):
        return None
    timestamp: timestamp_pb2.Timestamp = getattr(message, field)
    return timestamp.ToDatetime(tzinfo=dt.UTC)


def duration_to_seconds(message: Any, field: str) -> float | None:
    """The duration `field` of `message` in seconds, or None when unset."""
    if not message.HasField(field):
        return None
    duration: duration_pb2.Duration = getattr(message, field)
    return duration.ToTimedelta().total_seconds()


def seconds_to_duration(seconds: float) -> duration_pb2.Duration:
    """A duration of `seconds` (fractions kept to the nanosecond)."""
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1_000_000_000))
    return duration
