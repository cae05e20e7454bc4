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

log = logging.getLogger(__name__)

# Looked up along the exception's MRO, so a subclass inherits its parent's code.
_CODE_BY_ERROR: Mapping[type[errors.ResumeflowError], grpc.StatusCode] = {
    errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
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
    """Build the status a servicer aborts with: ErrorInfo always, BadRequest when fields are at fault."""
    code = status_code_for(error)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    details = [_pack(info)]
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=violation.field, description=violation.description, reason=violation.reason
                )
                for violation in error.violations
            ]
        )
        details.append(_pack(bad_request))
    status = status_pb2.Status(code=code.value[0], message=error.message, details=details)
    return rpc_status.to_status(status)


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
