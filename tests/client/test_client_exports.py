"""The public surface of `resumeflow_client` is exactly what `__all__` lists, and stands alone."""

from __future__ import annotations

import subprocess
import sys

import resumeflow_client

EXPECTED = {
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
    "Reason",
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
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(resumeflow_client.__all__) == EXPECTED
    assert len(resumeflow_client.__all__) == len(EXPECTED), "no duplicates"


def test_every_public_name_is_defined_in_a_private_module() -> None:
    for name in resumeflow_client.__all__:
        value = getattr(resumeflow_client, name)
        module = getattr(value, "__module__", "resumeflow_client._x")
        if isinstance(value, type) or callable(value):
            assert module.startswith("resumeflow_client._"), name


def test_nothing_public_leaks_beyond_all() -> None:
    public = {name for name in vars(resumeflow_client) if not name.startswith("_")}
    assert public == set(resumeflow_client.__all__)


def test_the_library_imports_none_of_the_services() -> None:
    """The client is a standalone library over the generated stubs."""
    code = (
        "import sys, resumeflow_client\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('resumeflow_core', 'runner_service', 'history_service', 'resumeflow_cli')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_enums_carry_the_proto_numbers() -> None:
    from resumeflow.v1 import run_pb2
    from resumeflow.v1 import runner_service_pb2 as rpb

    pairs = [
        (resumeflow_client.RunStatus, run_pb2.RunStatus, "RUN_STATUS_"),
        (resumeflow_client.NodeStatus, run_pb2.NodeStatus, "NODE_STATUS_"),
        (resumeflow_client.ResumeMode, run_pb2.ResumeMode, "RESUME_MODE_"),
        (resumeflow_client.EventKind, run_pb2.EventKind, "EVENT_KIND_"),
        (resumeflow_client.NodeFate, rpb.NodeFate, "NODE_FATE_"),
    ]
    for ours, theirs, prefix in pairs:
        assert {m.name: m.value for m in ours} == {
            name.removeprefix(prefix): number for name, number in theirs.items()
        }, ours.__name__
