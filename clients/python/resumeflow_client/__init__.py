"""Python client of Resumeflow: run workflows, resume failed runs from their failed nodes, follow runs.

    async with await Client.connect("127.0.0.1:50051", history_address="127.0.0.1:50052") as client:
        await client.apply_workflow(load_workflow("checkout.yaml"))
        run = await client.run("checkout", inputs={"user": "ada"})
        if run.status == RunStatus.FAILED:
            run = await client.resume("checkout", all_failed=True, secrets={"api_key": key})

`SyncClient` offers the same methods, blocking.
"""

from resumeflow_client._client import Client
from resumeflow_client._config import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    RetryConfig,
)
from resumeflow_client._errors import (
    AbortedError,
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MissingSecretsError,
    NoFailedRunError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    PlanStaleError,
    ResumeflowError,
    ResumeInProgressError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    WorkflowFileError,
    from_rpc_error,
)
from resumeflow_client._models import (
    AppliedWorkflow,
    Edge,
    Event,
    EventKind,
    FailedNode,
    LatestFailed,
    LineageContext,
    Node,
    NodeError,
    NodeFate,
    NodeResult,
    NodeStatus,
    PlannedNode,
    PlanProblem,
    ResumeMode,
    ResumePlan,
    RetryPolicy,
    Run,
    RunAccepted,
    RunFinished,
    RunStatus,
    RunUpdate,
    Workflow,
)
from resumeflow_client._run import RunHandle
from resumeflow_client._sync import SyncClient, SyncIterator, SyncRunHandle, SyncRunWatch
from resumeflow_client._watch import RunWatch
from resumeflow_client._workflow_file import load_workflow, workflow_from_mapping

__all__ = [
    "DEFAULT_HISTORY_ADDRESS",
    "DEFAULT_RUNNER_ADDRESS",
    "DEFAULT_TIMEOUT",
    "AbortedError",
    "AlreadyExistsError",
    "AppliedWorkflow",
    "Client",
    "DeadlineExceededError",
    "Edge",
    "Event",
    "EventKind",
    "FailedNode",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "LatestFailed",
    "LineageContext",
    "MissingSecretsError",
    "NoFailedRunError",
    "Node",
    "NodeError",
    "NodeFate",
    "NodeResult",
    "NodeStatus",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "PlanProblem",
    "PlanStaleError",
    "PlannedNode",
    "ResumeInProgressError",
    "ResumeMode",
    "ResumePlan",
    "ResumeflowError",
    "RetryConfig",
    "RetryPolicy",
    "Run",
    "RunAccepted",
    "RunFinished",
    "RunHandle",
    "RunStatus",
    "RunUpdate",
    "RunWatch",
    "SyncClient",
    "SyncIterator",
    "SyncRunHandle",
    "SyncRunWatch",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "Workflow",
    "WorkflowFileError",
    "from_rpc_error",
    "load_workflow",
    "workflow_from_mapping",
]
