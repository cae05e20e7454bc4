"""Every machine-readable failure name the services produce or match, in one catalogue.

Three kinds, all UPPER_SNAKE strings equal to their constant's name:

- ErrorInfo reasons (`ResumeflowError.reason`, `google.rpc.ErrorInfo.reason`): why a call
  failed. ERROR_REASONS holds every one the services send; README's error table lists each and
  the Python client's `Reason` mirrors them (tests/client/test_client_reasons.py pins both).
- Node error codes (`NodeError.code`, `NodeFailure.code`): why a node attempt failed, shown as
  `CODE: message` in events and error summaries. NODE_ERROR_CODES holds the built-in ones;
  a plugin node type may raise codes of its own.
- Local reasons, never sent: a failure of the process itself, or of a call that reached no
  Resumeflow service (a status without ErrorInfo takes its gRPC code's name).

Field-violation reasons (`FieldViolation.reason`: `REQUIRED`, `TOO_LONG`, …) stay with the
checks that make them, except those several modules share, listed at the end.
"""

from __future__ import annotations

from typing import Final

# --- ErrorInfo reasons with a meaning of their own, by gRPC status family ------------------------

# INVALID_ARGUMENT
INVALID_WORKFLOW: Final = "INVALID_WORKFLOW"
"""A workflow definition that is not a valid graph or config; violations list every problem."""
INVALID_RESUME: Final = "INVALID_RESUME"
"""The requested start nodes of a resume are wrong (unknown, start/end, named twice, too many)."""
AMBIGUOUS_RUN_ID: Final = "AMBIGUOUS_RUN_ID"
"""A run id prefix several runs start with (`metadata.candidates`)."""
MALFORMED_REQUEST: Final = "MALFORMED_REQUEST"
"""The request bytes do not decode as the message (bad UTF-8, nested too deep, truncated)."""

# FAILED_PRECONDITION
NO_FAILED_RUN: Final = "NO_FAILED_RUN"
"""Nothing to resume: the workflow has no unresolved failed run."""
SOURCE_NOT_FAILED: Final = "SOURCE_NOT_FAILED"
"""The named source run is neither FAILED nor CANCELLED."""
SOURCE_OTHER_WORKFLOW: Final = "SOURCE_OTHER_WORKFLOW"
"""The named source run belongs to another workflow."""
MISSING_PRIOR_RESULT: Final = "MISSING_PRIOR_RESULT"
"""A result the resume would reuse is gone."""
MISSING_SECRET: Final = "MISSING_SECRET"
"""Re-run nodes reference runtime secrets the request lacks (secrets are never stored)."""
WORKFLOW_DRIFT: Final = "WORKFLOW_DRIFT"
"""Nodes the resume would reuse changed since they ran."""
PLAN_STALE: Final = "PLAN_STALE"
"""The plan token no longer matches the source lineage or the workflow."""
RUN_FINISHED: Final = "RUN_FINISHED"
"""The run has ended: nothing to cancel, nothing more to record."""
WORKFLOW_NOT_RUNNABLE: Final = "WORKFLOW_NOT_RUNNABLE"
"""This runner cannot run the stored version (a node type it lacks)."""

# ABORTED
RESUME_IN_PROGRESS: Final = "RESUME_IN_PROGRESS"
"""Another resume of the same source run is active (`metadata.active_run_id`)."""
CONCURRENT_UPDATE: Final = "CONCURRENT_UPDATE"
"""A concurrent write to the same workflow won."""
SEQUENCE_GAP: Final = "SEQUENCE_GAP"
"""Runner-facing: events out of sequence (`metadata.expected_sequence`)."""
LEASE_LOST: Final = "LEASE_LOST"
"""Runner-facing: the runner no longer holds the run's lease."""

# NOT_FOUND
WORKFLOW_NOT_FOUND: Final = "WORKFLOW_NOT_FOUND"
RUN_NOT_FOUND: Final = "RUN_NOT_FOUND"

# UNAVAILABLE
SHUTTING_DOWN: Final = "SHUTTING_DOWN"
"""The runner, or the history replica, is stopping."""
RUN_NOT_RECORDED: Final = "RUN_NOT_RECORDED"
"""The run cannot be recorded any more; everything streamed before was stored."""

# PERMISSION_DENIED
RUNNER_CREDENTIAL_REQUIRED: Final = "RUNNER_CREDENTIAL_REQUIRED"
"""A runner-facing write made with a client token."""
CLIENT_CREDENTIAL_REQUIRED: Final = "CLIENT_CREDENTIAL_REQUIRED"
"""A client call made with the runner token."""

# --- ErrorInfo reasons of an error nothing finer describes: its family's gRPC code name ---------

INVALID_ARGUMENT: Final = "INVALID_ARGUMENT"
NOT_FOUND: Final = "NOT_FOUND"
ALREADY_EXISTS: Final = "ALREADY_EXISTS"
FAILED_PRECONDITION: Final = "FAILED_PRECONDITION"
OUT_OF_RANGE: Final = "OUT_OF_RANGE"
"""Also a field-violation reason: a number or time outside what the field takes."""
ABORTED: Final = "ABORTED"
UNAUTHENTICATED: Final = "UNAUTHENTICATED"
PERMISSION_DENIED: Final = "PERMISSION_DENIED"
UNAVAILABLE: Final = "UNAVAILABLE"

ERROR_REASONS: Final = frozenset(
    {
        INVALID_WORKFLOW,
        INVALID_RESUME,
        AMBIGUOUS_RUN_ID,
        MALFORMED_REQUEST,
        NO_FAILED_RUN,
        SOURCE_NOT_FAILED,
        SOURCE_OTHER_WORKFLOW,
        MISSING_PRIOR_RESULT,
        MISSING_SECRET,
        WORKFLOW_DRIFT,
        PLAN_STALE,
        RUN_FINISHED,
        WORKFLOW_NOT_RUNNABLE,
        RESUME_IN_PROGRESS,
        CONCURRENT_UPDATE,
        SEQUENCE_GAP,
        LEASE_LOST,
        WORKFLOW_NOT_FOUND,
        RUN_NOT_FOUND,
        SHUTTING_DOWN,
        RUN_NOT_RECORDED,
        RUNNER_CREDENTIAL_REQUIRED,
        CLIENT_CREDENTIAL_REQUIRED,
        INVALID_ARGUMENT,
        NOT_FOUND,
        ALREADY_EXISTS,
        FAILED_PRECONDITION,
        OUT_OF_RANGE,
        ABORTED,
        UNAUTHENTICATED,
        PERMISSION_DENIED,
        UNAVAILABLE,
    }
)
"""Every ErrorInfo reason the services send."""

# --- Local reasons, never sent ----------------------------------------------------------------

INTERNAL: Final = "INTERNAL"
"""An error with no reason of its own; a server answers an unexpected one with INTERNAL and no ErrorInfo."""
UNKNOWN: Final = "UNKNOWN"
"""A call failed without a gRPC status of its own (a history process killed mid-call)."""
LISTEN_FAILED: Final = "LISTEN_FAILED"
"""`serve` cannot bind its address."""

LOCAL_REASONS: Final = frozenset({INTERNAL, UNKNOWN, LISTEN_FAILED})

# --- Node error codes -------------------------------------------------------------------------

# Set by the engine around any node type.
NODE_ERROR: Final = "NODE_ERROR"
"""The node raised an unexpected exception (its type and message, secrets masked)."""
TIMEOUT: Final = "TIMEOUT"
"""The attempt outlived its time limit (the node's `timeout`, or an http node's own)."""
TEMPLATE_ERROR: Final = "TEMPLATE_ERROR"
"""A template did not render (an undefined name, a syntax error)."""
TEMPLATE_LIMIT: Final = "TEMPLATE_LIMIT"
"""A template went over an evaluation limit (resumeflow_core.limits: size, integer, range,
time). Also a field-violation reason of INVALID_WORKFLOW, for a template over a limit whatever
the run."""
UNKNOWN_NODE_TYPE: Final = "UNKNOWN_NODE_TYPE"
"""This runner has no such node type. Also a field-violation reason of INVALID_WORKFLOW."""
OUTPUT_TOO_LARGE: Final = "OUTPUT_TOO_LARGE"
"""The node's output plus written variables is over `--max-node-output-bytes`."""
RUNNER_SHUTDOWN: Final = "RUNNER_SHUTDOWN"
"""The runner was stopped while the node was unfinished."""
RUNNER_LOST: Final = "RUNNER_LOST"
"""Set by the history: the run's runner stopped renewing its lease (also a run's error summary)."""

# Raised by the built-in node types.
INVALID_CONFIG: Final = "INVALID_CONFIG"
"""A config value, once rendered, has the wrong type or range."""
HTTP_STATUS: Final = "HTTP_STATUS"
"""An http response whose status is not the expected one."""
HTTP_ERROR: Final = "HTTP_ERROR"
"""No usable http response (refused, reset, TLS, too many redirects)."""
EXTRACT_FAILED: Final = "EXTRACT_FAILED"
"""An http node's `extract` expression failed on the response."""
RESPONSE_TOO_LARGE: Final = "RESPONSE_TOO_LARGE"
"""An http response body over its cap."""
DESTINATION_DENIED: Final = "DESTINATION_DENIED"
"""The runner's destination policy refused the connection; nothing was sent."""
ASSERTION_FAILED: Final = "ASSERTION_FAILED"
"""An `assert` node's expression was falsy."""

NODE_ERROR_CODES: Final = frozenset(
    {
        NODE_ERROR,
        TIMEOUT,
        TEMPLATE_ERROR,
        TEMPLATE_LIMIT,
        UNKNOWN_NODE_TYPE,
        OUTPUT_TOO_LARGE,
        RUNNER_SHUTDOWN,
        RUNNER_LOST,
        INVALID_CONFIG,
        HTTP_STATUS,
        HTTP_ERROR,
        EXTRACT_FAILED,
        RESPONSE_TOO_LARGE,
        DESTINATION_DENIED,
        ASSERTION_FAILED,
    }
)
"""Every node error code Resumeflow itself sets."""

# --- Field-violation reasons several modules share ------------------------------------------------

MALFORMED_TOKEN: Final = "MALFORMED_TOKEN"
"""A page token or plan token this service did not make."""
REQUIRED: Final = "REQUIRED"
"""A field that must be set is empty."""
TOO_LONG: Final = "TOO_LONG"
"""A value over its length limit."""

SHARED_VIOLATION_REASONS: Final = frozenset({MALFORMED_TOKEN, REQUIRED, TOO_LONG, OUT_OF_RANGE})
"""The field-violation reasons of this catalogue (others stay with their checks)."""
