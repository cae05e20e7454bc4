"""The client's exceptions, and the one place that turns a gRPC error into them.

Hierarchy (the gRPC status family, then the machine-readable reasons worth a class)::

    ResumeflowError                     .code, .reason, .message, .metadata, .violations,
                                        .total_violations
    ├── InvalidArgumentError            INVALID_ARGUMENT; `violations` lists every bad field
    │   └── WorkflowFileError           a workflow file that cannot be read or converted (local)
    ├── NotFoundError                   NOT_FOUND: WORKFLOW_NOT_FOUND, RUN_NOT_FOUND
    ├── AlreadyExistsError              ALREADY_EXISTS
    ├── FailedPreconditionError         FAILED_PRECONDITION: the request is valid, the state forbids it
    │   ├── NoFailedRunError            NO_FAILED_RUN: nothing to resume
    │   ├── MissingSecretsError         MISSING_SECRET; `secret_names` lists what to pass again
    │   └── PlanStaleError              PLAN_STALE: plan the resume again
    ├── OutOfRangeError                 OUT_OF_RANGE: past the end of what exists (a run's event log)
    ├── AbortedError                    ABORTED: a concurrent change won
    │   └── ResumeInProgressError       RESUME_IN_PROGRESS; `active_run_id` names the other resume
    ├── UnauthenticatedError            UNAUTHENTICATED: missing or wrong auth token
    ├── PermissionDeniedError           PERMISSION_DENIED
    ├── DeadlineExceededError           DEADLINE_EXCEEDED: the call's timeout elapsed
    ├── UnavailableError                UNAVAILABLE: a service (or what it depends on) cannot be reached
    ├── UnimplementedError              UNIMPLEMENTED
    └── InternalError                   INTERNAL, UNKNOWN and every other code

`Reason` names every reason the services send, so code can match one without spelling it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class Reason(enum.StrEnum):
    """The machine-readable reasons (`ResumeflowError.reason`) of Resumeflow's services, by status
    family; README's error table says when each happens and what to do.

    A `str`, so `error.reason == Reason.NO_FAILED_RUN` holds for the plain string a server sent.
    """

    # INVALID_ARGUMENT
    INVALID_WORKFLOW = "INVALID_WORKFLOW"
    INVALID_RESUME = "INVALID_RESUME"
    AMBIGUOUS_RUN_ID = "AMBIGUOUS_RUN_ID"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    INVALID_WORKFLOW_FILE = "INVALID_WORKFLOW_FILE"
    """Set by this library (`WorkflowFileError`), never by a server."""
    # FAILED_PRECONDITION
    NO_FAILED_RUN = "NO_FAILED_RUN"
    SOURCE_NOT_FAILED = "SOURCE_NOT_FAILED"
    SOURCE_OTHER_WORKFLOW = "SOURCE_OTHER_WORKFLOW"
    MISSING_PRIOR_RESULT = "MISSING_PRIOR_RESULT"
    MISSING_SECRET = "MISSING_SECRET"
    WORKFLOW_DRIFT = "WORKFLOW_DRIFT"
    PLAN_STALE = "PLAN_STALE"
    RUN_FINISHED = "RUN_FINISHED"
    WORKFLOW_NOT_RUNNABLE = "WORKFLOW_NOT_RUNNABLE"
    # ABORTED
    RESUME_IN_PROGRESS = "RESUME_IN_PROGRESS"
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"
    SEQUENCE_GAP = "SEQUENCE_GAP"
    LEASE_LOST = "LEASE_LOST"
    # NOT_FOUND
    WORKFLOW_NOT_FOUND = "WORKFLOW_NOT_FOUND"
    RUN_NOT_FOUND = "RUN_NOT_FOUND"
    # UNAVAILABLE
    SHUTTING_DOWN = "SHUTTING_DOWN"
    RUN_NOT_RECORDED = "RUN_NOT_RECORDED"
    # PERMISSION_DENIED
    RUNNER_CREDENTIAL_REQUIRED = "RUNNER_CREDENTIAL_REQUIRED"
    CLIENT_CREDENTIAL_REQUIRED = "CLIENT_CREDENTIAL_REQUIRED"
    # Nothing finer applies: the status code's name.
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    ABORTED = "ABORTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAVAILABLE = "UNAVAILABLE"


_TOTAL_VIOLATIONS_KEY = "total_violations"


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one field of a request (google.rpc.BadRequest.FieldViolation)."""

    field: str
    """The path of the field at fault, such as `resume.start_node_ids[0]` or `nodes[2].type`."""
    description: str
    """What is wrong with it."""
    reason: str = ""
    """A machine-readable reason, when the server gives one."""

    def __str__(self) -> str:
        return f"{self.field}: {self.description}" if self.field else self.description


class ResumeflowError(Exception):
    """Base class of every error this library raises.

    Attributes:
        code: The gRPC status code (`grpc.StatusCode`).
        reason: The machine-readable UPPER_SNAKE reason from `google.rpc.ErrorInfo`, such as
            `NO_FAILED_RUN`; the status code's name when the server sent none.
        message: The human-readable message.
        metadata: The `ErrorInfo` metadata, such as `{"missing_secrets": "api_key"}`.
        violations: Every field violation of a `google.rpc.BadRequest` detail.
        domain: The `ErrorInfo` domain, `resumeflow.v1` for errors of Resumeflow's services.
    """

    default_code: Any = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: Any = None,
        reason: str = "",
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[FieldViolation] = (),
        domain: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: Any = code if code is not None else self.default_code
        self.reason = reason or self.code.name
        self.metadata: dict[str, str] = dict(metadata or {})
        self.violations: tuple[FieldViolation, ...] = tuple(violations)
        self.domain = domain

    def __str__(self) -> str:
        return self.message

    @property
    def total_violations(self) -> int:
        """How many violations the server found: `violations` holds the first of them, as many
        as fit in a response (the `total_violations` metadata counts them all)."""
        total = self.metadata.get(_TOTAL_VIOLATIONS_KEY, "")
        return max(int(total), len(self.violations)) if total.isdigit() else len(self.violations)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r})"


class InvalidArgumentError(ResumeflowError):
    """The request is malformed; `violations` lists every problem."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


class WorkflowFileError(InvalidArgumentError):
    """A workflow file cannot be read, parsed or converted; `violations` lists every problem.

    Attributes:
        path: The file, when the workflow came from one.
    """

    def __init__(self, message: str, *, path: str = "", violations: Iterable[FieldViolation] = ()) -> None:
        super().__init__(message, reason=Reason.INVALID_WORKFLOW_FILE, violations=violations)
        self.path = path


class NotFoundError(ResumeflowError):
    """The workflow or run does not exist."""

    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(ResumeflowError):
    default_code = grpc.StatusCode.ALREADY_EXISTS


class FailedPreconditionError(ResumeflowError):
    """The request is valid but the current state forbids it (see `reason`)."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION


class NoFailedRunError(FailedPreconditionError):
    """Nothing to resume: the workflow has no unresolved failed run."""


class MissingSecretsError(FailedPreconditionError):
    """The re-run nodes need runtime secrets the request did not give (they are never stored)."""

    @property
    def secret_names(self) -> tuple[str, ...]:
        """The names of the missing secrets."""
        return _split(self.metadata.get("missing_secrets", ""))

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The re-run nodes that need them."""
        return _split(self.metadata.get("node_ids", ""))


class PlanStaleError(FailedPreconditionError):
    """The plan token no longer matches the source lineage or the workflow: plan again."""


class OutOfRangeError(ResumeflowError):
    """The request reaches past the end of what exists now, such as a sequence after a run's last event."""

    default_code = grpc.StatusCode.OUT_OF_RANGE


class AbortedError(ResumeflowError):
    """A concurrent change won; retrying later may succeed."""

    default_code = grpc.StatusCode.ABORTED


class ResumeInProgressError(AbortedError):
    """Another resume of the same source run is still active."""

    @property
    def active_run_id(self) -> str:
        """The id of the resume that is running."""
        return self.metadata.get("active_run_id", "")


class UnauthenticatedError(ResumeflowError):
    """The auth token is missing or wrong."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(ResumeflowError):
    default_code = grpc.StatusCode.PERMISSION_DENIED


class DeadlineExceededError(ResumeflowError):
    """The call did not finish within its timeout."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class UnavailableError(ResumeflowError):
    """A service, or something it depends on, cannot be reached; retrying later may succeed."""

    default_code = grpc.StatusCode.UNAVAILABLE


class UnimplementedError(ResumeflowError):
    default_code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ResumeflowError):
    """The server failed unexpectedly, or answered with a status this library does not classify."""

    default_code = grpc.StatusCode.INTERNAL


_ERROR_BY_CODE: Mapping[Any, type[ResumeflowError]] = {
    cls.default_code: cls
    for cls in (
        InvalidArgumentError,
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        OutOfRangeError,
        AbortedError,
        UnauthenticatedError,
        PermissionDeniedError,
        DeadlineExceededError,
        UnavailableError,
        UnimplementedError,
        InternalError,
    )
}
# A reason names a finer class only within its own status family.
_ERROR_BY_REASON: Mapping[str, type[ResumeflowError]] = {
    Reason.NO_FAILED_RUN: NoFailedRunError,
    Reason.MISSING_SECRET: MissingSecretsError,
    Reason.PLAN_STALE: PlanStaleError,
    Reason.RESUME_IN_PROGRESS: ResumeInProgressError,
}


def from_rpc_error(exc: grpc.RpcError) -> ResumeflowError:
    """Turn a failed gRPC call into this library's exception, with its reason and details unpacked.

    Works with `grpc.aio.AioRpcError` and with errors of synchronous calls. Raise the result
    `from exc` so the original error stays attached.

    Args:
        exc: The error of the call.

    Returns:
        The matching `ResumeflowError` subclass: by the `ErrorInfo` reason when one has its own class
        (`NO_FAILED_RUN`, `MISSING_SECRET`, …), else by the status code.
    """
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    message = (exc.details() if callable(getattr(exc, "details", None)) else None) or str(exc)
    reason, domain, metadata, violations = "", "", {}, []
    for detail in _status_details(exc):
        info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            reason, domain, metadata = info.reason, info.domain, dict(info.metadata)
        elif detail.Is(bad_request.DESCRIPTOR):
            detail.Unpack(bad_request)
            violations += [
                FieldViolation(v.field, v.description, v.reason) for v in bad_request.field_violations
            ]
    cls = _ERROR_BY_CODE.get(code, InternalError)
    finer = _ERROR_BY_REASON.get(reason)
    if finer is not None and issubclass(finer, cls):
        cls = finer
    return cls(message, code=code, reason=reason, metadata=metadata, violations=violations, domain=domain)


def _status_details(exc: grpc.RpcError) -> list[Any]:
    """The `google.rpc.Status` details in the trailing metadata; none when absent or unreadable."""
    trailing = getattr(exc, "trailing_metadata", None)
    if not callable(trailing):
        return []
    for key, value in trailing() or ():
        if key == _STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return list(status_pb2.Status.FromString(value).details)
            except DecodeError:  # a garbled detail must not hide the error itself
                return []
    return []


def _split(joined: str) -> tuple[str, ...]:
    return tuple(part for part in joined.split(",") if part)
