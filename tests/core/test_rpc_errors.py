"""The one place that builds a google.rpc.Status keeps it within its trailer budget."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from resumeflow_core import errors
from resumeflow_core.rpc.errors import (
    MAX_MESSAGE_BYTES,
    STATUS_BUDGET_BYTES,
    TOTAL_VIOLATIONS_KEY,
    status_code_for,
    to_rpc_status,
)


def wire_bytes(status: grpc.Status) -> int:
    """The status's share of the trailers: percent-encoded message plus base64 details."""
    details = dict(status.trailing_metadata)["grpc-status-details-bin"]
    encoded = status.details.encode()
    escaped = sum(1 for byte in encoded if not 0x20 <= byte < 0x7F or byte == ord("%"))
    return len(encoded) + 2 * escaped + (len(details) * 4 + 2) // 3


def unpacked(status: grpc.Status) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest]:
    message = status_pb2.Status.FromString(dict(status.trailing_metadata)["grpc-status-details-bin"])
    info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
    for detail in message.details:
        assert detail.Unpack(info) or detail.Unpack(bad_request)
    return info, bad_request


@pytest.mark.parametrize(
    "text", ["x", "é", "🙂", "%", "\n"], ids=["ascii", "accent", "emoji", "percent", "newline"]
)
@pytest.mark.parametrize("count", [1, 150, 10_000])
def test_any_number_of_long_violations_stays_within_the_budget(text: str, count: int) -> None:
    error = errors.InvalidWorkflowError(
        text * 30_000,
        metadata={"workflow_id": text * 30_000, "other": "short"},
        violations=[errors.FieldViolation(text * 500, text * 5_000, text * 300) for _ in range(count)],
    )

    status = to_rpc_status(error)

    assert wire_bytes(status) <= STATUS_BUDGET_BYTES
    info, bad_request = unpacked(status)
    assert info.reason == "INVALID_WORKFLOW" and info.metadata[TOTAL_VIOLATIONS_KEY] == str(count)
    assert info.metadata["other"] == "short" and info.metadata["workflow_id"].endswith("…")
    assert 1 <= len(bad_request.field_violations) <= count
    assert status.details.endswith("…") and status.details.startswith(text)


def test_a_small_error_goes_out_unchanged() -> None:
    error = errors.InvalidArgumentError(
        "bad request", metadata={"k": "v"}, violations=[errors.FieldViolation("f", "d", "R")] * 3
    )

    status = to_rpc_status(error)

    info, bad_request = unpacked(status)
    assert status.details == "bad request" and status.code == status_code_for(error)
    assert dict(info.metadata) == {"k": "v", TOTAL_VIOLATIONS_KEY: "3"}
    assert [(v.field, v.description, v.reason) for v in bad_request.field_violations] == [("f", "d", "R")] * 3


def test_a_shortened_message_keeps_whole_characters() -> None:
    status = to_rpc_status(errors.NotFoundError("ü" * 5_000))

    assert set(status.details[:-1]) == {"ü"}
    assert len(status.details.encode()) * 3 <= MAX_MESSAGE_BYTES
    assert TOTAL_VIOLATIONS_KEY not in unpacked(status)[0].metadata


def test_a_runaway_metadata_map_is_cut_and_still_leaves_room_for_violations() -> None:
    metadata = {f"key-{i}-{'k' * 300}": "v" * 1000 for i in range(100)}
    error = errors.InvalidArgumentError(
        "bad", metadata=metadata, violations=[errors.FieldViolation("f", "d")] * 50
    )

    status = to_rpc_status(error)

    assert wire_bytes(status) <= STATUS_BUDGET_BYTES
    info, bad_request = unpacked(status)
    assert info.metadata[TOTAL_VIOLATIONS_KEY] == "50" and 1 < len(info.metadata) < 100
    assert len(bad_request.field_violations) == 50
