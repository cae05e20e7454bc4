"""Domain errors shared by the services; they carry a machine-readable reason and know nothing of gRPC.

Hierarchy::

    ResumeflowError
    ├── InvalidArgumentError            bad request fields; `violations` lists every problem
    │   └── InvalidWorkflowError        a workflow definition that is not a valid graph
    ├── NotFoundError
    │   ├── WorkflowNotFoundError
    │   └── RunNotFoundError
    ├── AlreadyExistsError
    ├── FailedPreconditionError         the request is valid but the state forbids it
    ├── OutOfRangeError                 past the end of what exists now (a run's event log)
    ├── ConflictError                   a concurrent change won (gRPC ABORTED)
    ├── UnauthenticatedError
    ├── PermissionDeniedError           a valid credential that may not make this call
    └── UnavailableError                a dependency (the history service, the database) is down

Reasons come from the `reasons` catalogue. `rpc.errors` maps each class to a gRPC status code;
servicers never pick codes themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from resumeflow_core import reasons


@dataclass(frozen=True)
class FieldViolation:
    """One problem with one field of a request (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str
    reason: str = ""


class ResumeflowError(Exception):
    """Base class of every error the services report to clients.

    Attributes:
        reason: A machine-readable UPPER_SNAKE reason (google.rpc.ErrorInfo.reason).
        message: A human-readable sentence.
        metadata: Context that travels in ErrorInfo.metadata.
        violations: Every field problem, for errors about the request itself.
    """

    default_reason: str = reasons.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Iterable[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata = dict(metadata or {})
        self.violations = list(violations)


class InvalidArgumentError(ResumeflowError):
    default_reason = reasons.INVALID_ARGUMENT


class InvalidWorkflowError(InvalidArgumentError):
    default_reason = reasons.INVALID_WORKFLOW


class NotFoundError(ResumeflowError):
    default_reason = reasons.NOT_FOUND


class WorkflowNotFoundError(NotFoundError):
    default_reason = reasons.WORKFLOW_NOT_FOUND

    def __init__(self, workflow_id: str, version: int = 0) -> None:
        what = f"workflow {workflow_id!r}" + (f" version {version}" if version else "")
        metadata = {"workflow_id": workflow_id}
        if version:
            metadata["version"] = str(version)
        super().__init__(f"{what} does not exist", metadata=metadata)
        self.workflow_id = workflow_id


class RunNotFoundError(NotFoundError):
    default_reason = reasons.RUN_NOT_FOUND

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} does not exist", metadata={"run_id": run_id})
        self.run_id = run_id


class AlreadyExistsError(ResumeflowError):
    default_reason = reasons.ALREADY_EXISTS


class FailedPreconditionError(ResumeflowError):
    default_reason = reasons.FAILED_PRECONDITION


class OutOfRangeError(ResumeflowError):
    default_reason = reasons.OUT_OF_RANGE


class ConflictError(ResumeflowError):
    default_reason = reasons.ABORTED


class UnauthenticatedError(ResumeflowError):
    default_reason = reasons.UNAUTHENTICATED


class PermissionDeniedError(ResumeflowError):
    default_reason = reasons.PERMISSION_DENIED


class UnavailableError(ResumeflowError):
    default_reason = reasons.UNAVAILABLE
