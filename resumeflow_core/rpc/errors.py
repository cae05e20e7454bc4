"""Maps domain errors to gRPC statuses with google.rpc details, and back, in one place each."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from resumeflow_core import errors

ERROR_DOMAIN = "resumeflow.v1"
TOTAL_VIOLATIONS_KEY = "total_violations"
"""ErrorInfo metadata: how many violations the error has, when it has any; BadRequest may hold
fewer (SPEC §11)."""

STATUS_BUDGET_BYTES = 6 * 1024
"""The most a status takes of the trailers on the wire (percent-encoded message plus
base64-encoded details). gRPC clients refuse trailers over 16 KiB, and over 8 KiB at random
(`grpc.absolute_max_metadata_size`, `grpc.max_metadata_size`): this leaves room for the rest."""
MAX_MESSAGE_BYTES = 1024  # the status message, percent-encoded; it travels twice
MAX_VALUE_BYTES = 256  # each metadata key and value, violation field and reason, in UTF-8
MAX_DESCRIPTION_BYTES = 512  # each violation's description, in UTF-8
MAX_METADATA_BYTES = 2048  # the whole ErrorInfo, serialized
MAX_VIOLATIONS = 100  # violations in BadRequest, if that many fit
_ANY_OVERHEAD = 64  # the type URL and lengths around a packed BadRequest
_ELLIPSIS = "…".encode()
_UNESCAPED = bytes(byte for byte in range(0x20, 0x7F) if byte != ord("%"))

log = logging.getLogger(__name__)

# Looked up along the exception's MRO, so a subclass inherits its parent's code.
_CODE_BY_ERROR: Mapping[type[errors.ResumeflowError], grpc.StatusCode] = {
    errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OutOfRangeError: grpc.StatusCode.OUT_OF_RANGE,
    errors.ConflictError: grpc.StatusCode.ABORTED,
    errors.UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    errors.UnavailableError: grpc.StatusCode.UNAVAILABLE,
}
_ERROR_BY_CODE: Mapping[grpc.StatusCode, type[errors.ResumeflowError]] = {
    code: cls for cls, code in _CODE_BY_ERROR.items()
}


def status_code_for(error: errors.ResumeflowError) -> grpc.StatusCode:
    """The gRPC code of a domain error: the entry of its nearest mapped base class."""
    for cls in type(error).__mro__:
        code = _CODE_BY_ERROR.get(cls)
        if code is not None:
            return code
    return grpc.StatusCode.INTERNAL


def to_rpc_status(error: errors.ResumeflowError) -> grpc.Status:
    """Build the status a servicer aborts with: ErrorInfo always, BadRequest when fields are at fault.

    However many problems the error lists and however long its texts, the status fits in
    STATUS_BUDGET_BYTES of trailers: the message and every value are shortened, and BadRequest
    holds the first violations that fit (at most MAX_VIOLATIONS), the total count in the
    ErrorInfo metadata under TOTAL_VIOLATIONS_KEY.
    """
    code = status_code_for(error)
    message = _shorten_message(error.message)
    info = error_details_pb2.ErrorInfo(reason=_shorten(error.reason, MAX_VALUE_BYTES), domain=ERROR_DOMAIN)
    if error.violations:
        info.metadata[TOTAL_VIOLATIONS_KEY] = str(len(error.violations))
    for key, value in error.metadata.items():
        entry = (_shorten(key, MAX_VALUE_BYTES), _shorten(value, MAX_VALUE_BYTES))
        if info.ByteSize() + len(entry[0].encode()) + len(entry[1].encode()) + 8 > MAX_METADATA_BYTES:
            break  # a runaway metadata map must not crowd out the violations
        info.metadata[entry[0]] = entry[1]
    status = status_pb2.Status(code=code.value[0], message=message, details=[_pack(info)])
    if error.violations:
        status.details.append(_pack(_bad_request(error.violations, _room(status))))
    return rpc_status.to_status(status)


def _bad_request(violations: list[errors.FieldViolation], room: int) -> error_details_pb2.BadRequest:
    """The first violations, shortened, whose serialized size stays within `room` bytes."""
    bad_request = error_details_pb2.BadRequest()
    room -= _ANY_OVERHEAD
    for violation in violations[:MAX_VIOLATIONS]:
        item = error_details_pb2.BadRequest.FieldViolation(
            field=_shorten(violation.field, MAX_VALUE_BYTES),
            description=_shorten(violation.description, MAX_DESCRIPTION_BYTES),
            reason=_shorten(violation.reason, MAX_VALUE_BYTES),
        )
        size = item.ByteSize() + 3  # its tag and length
        if size > room:
            break
        room -= size
        bad_request.field_violations.append(item)
    return bad_request


def _room(status: status_pb2.Status) -> int:
    """The serialized bytes `status` may still grow by within STATUS_BUDGET_BYTES.

    On the wire the message is percent-encoded in grpc-message and the whole Status base64-encoded
    in grpc-status-details-bin (4 characters per 3 bytes).
    """
    left = STATUS_BUDGET_BYTES - _percent_encoded_length(status.message.encode())
    return left * 3 // 4 - int(status.ByteSize())


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, ending in an ellipsis when cut."""
    encoded = text.encode("utf-8", "replace")  # "replace": a lone surrogate cannot go out
    if len(encoded) <= limit:
        return encoded.decode()
    return encoded[: limit - len(_ELLIPSIS)].decode("utf-8", "ignore") + _ELLIPSIS.decode()


def _shorten_message(text: str) -> str:
    """`text` cut so that its percent-encoded form takes at most MAX_MESSAGE_BYTES."""
    encoded = text.encode("utf-8", "replace")
    if _percent_encoded_length(encoded) <= MAX_MESSAGE_BYTES:
        return encoded.decode()
    limit = MAX_MESSAGE_BYTES - _percent_encoded_length(_ELLIPSIS)
    low, high = 0, min(len(encoded), limit)  # the longest prefix that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if _percent_encoded_length(encoded[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return encoded[:low].decode("utf-8", "ignore") + _ELLIPSIS.decode()


def _percent_encoded_length(encoded: bytes) -> int:
    """The length of grpc-message's percent-encoding: every byte but printable ASCII and "%" takes 3."""
    return len(encoded) + 2 * len(encoded.translate(None, _UNESCAPED))


def from_rpc_error(exc: grpc.RpcError) -> errors.ResumeflowError:
    """Turn an RpcError (from our own services or the network) back into a domain error.

    Works for sync calls and `grpc.aio.AioRpcError`, which is not a `grpc.Call` but has the same
    `code()`, `details()` and `trailing_metadata()`.
    """
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    reason, metadata, violations = code.name, {}, []
    for detail in _status_details(exc):
        info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad_request):
            violations = [
                errors.FieldViolation(v.field, v.description, v.reason) for v in bad_request.field_violations
            ]
    cls = _ERROR_BY_CODE.get(code, errors.ResumeflowError)
    if code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        cls = errors.UnavailableError
    error = cls.__new__(cls)
    errors.ResumeflowError.__init__(error, message, reason=reason, metadata=metadata, violations=violations)
    return error


def _status_details(exc: grpc.RpcError) -> list[any_pb2.Any]:
    if not hasattr(exc, "trailing_metadata"):
        return []
    try:
        status = rpc_status.from_call(exc)
    except ValueError:  # a status whose code disagrees with the call's: trust the call
        return []
    return list(status.details) if status is not None else []


def internal_status(exc: BaseException) -> grpc.Status:
    """The status for an unexpected exception: INTERNAL, with nothing of the exception's text."""
    del exc  # the text may hold secrets or internals; it is logged by the caller
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log")
    return rpc_status.to_status(status)


def _pack(message: error_details_pb2.ErrorInfo | error_details_pb2.BadRequest) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
