"""gRPC errors surface as the library's exceptions, with the reason and details unpacked."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from client_helpers import parallel_workflow, secret_workflow
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from resumeflow_client import (
    AbortedError,
    Client,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MissingSecretsError,
    NoFailedRunError,
    NotFoundError,
    ResumeflowError,
    ResumeInProgressError,
    UnauthenticatedError,
    UnavailableError,
    from_rpc_error,
)


def rpc_error(
    code: grpc.StatusCode,
    message: str,
    reason: str = "",
    metadata: dict[str, str] | None = None,
    violations: list[tuple[str, str]] = (),  # type: ignore[assignment]
    details_bytes: bytes | None = None,
) -> grpc.aio.AioRpcError:
    details = []
    if reason:
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="resumeflow.v1", metadata=metadata or {}))
        details.append(info)
    if violations:
        bad = any_pb2.Any()
        bad.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in violations
                ]
            )
        )
        details.append(bad)
    trailing = []
    if details or details_bytes is not None:
        status = status_pb2.Status(code=code.value[0], message=message, details=details)
        trailing.append(("grpc-status-details-bin", details_bytes or status.SerializeToString()))
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details=message)


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        pytest.param(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_RESUME", InvalidArgumentError, id="invalid"),
        pytest.param(grpc.StatusCode.NOT_FOUND, "RUN_NOT_FOUND", NotFoundError, id="not-found"),
        pytest.param(
            grpc.StatusCode.FAILED_PRECONDITION, "WORKFLOW_DRIFT", FailedPreconditionError, id="drift"
        ),
        pytest.param(
            grpc.StatusCode.FAILED_PRECONDITION, "NO_FAILED_RUN", NoFailedRunError, id="no-failed-run"
        ),
        pytest.param(grpc.StatusCode.FAILED_PRECONDITION, "MISSING_SECRET", MissingSecretsError, id="secret"),
        pytest.param(grpc.StatusCode.ABORTED, "RESUME_IN_PROGRESS", ResumeInProgressError, id="in-progress"),
        pytest.param(grpc.StatusCode.ABORTED, "CONCURRENT_UPDATE", AbortedError, id="aborted"),
        pytest.param(grpc.StatusCode.UNAUTHENTICATED, "", UnauthenticatedError, id="unauthenticated"),
        pytest.param(grpc.StatusCode.UNAVAILABLE, "", UnavailableError, id="unavailable"),
        pytest.param(grpc.StatusCode.DATA_LOSS, "", InternalError, id="unclassified"),
        pytest.param(
            grpc.StatusCode.NOT_FOUND, "NO_FAILED_RUN", NotFoundError, id="reason-of-another-family"
        ),
    ],
)
def test_each_status_family_and_known_reason_has_its_class(
    code: grpc.StatusCode, reason: str, expected: type[ResumeflowError]
) -> None:
    error = from_rpc_error(rpc_error(code, "it went wrong", reason))

    assert type(error) is expected
    assert error.code == code and error.message == "it went wrong" and str(error) == "it went wrong"
    assert error.reason == (reason or code.name)


def test_reason_metadata_and_every_violation_are_unpacked() -> None:
    error = from_rpc_error(
        rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad",
            "INVALID_RESUME",
            {"workflow_id": "w"},
            [("resume.start_node_ids[0]", "no node 'ghost'"), ("resume.start_node_ids[1]", "is `start`")],
        )
    )

    assert error.reason == "INVALID_RESUME" and error.domain == "resumeflow.v1"
    assert error.metadata == {"workflow_id": "w"}
    assert error.violations == (
        FieldViolation("resume.start_node_ids[0]", "no node 'ghost'"),
        FieldViolation("resume.start_node_ids[1]", "is `start`"),
    )


def test_missing_secrets_and_resume_in_progress_expose_their_details() -> None:
    secrets = from_rpc_error(
        rpc_error(
            grpc.StatusCode.FAILED_PRECONDITION,
            "m",
            "MISSING_SECRET",
            {"missing_secrets": "api_key,token", "node_ids": "call"},
        )
    )
    progress = from_rpc_error(
        rpc_error(grpc.StatusCode.ABORTED, "m", "RESUME_IN_PROGRESS", {"active_run_id": "r2"})
    )

    assert isinstance(secrets, MissingSecretsError)
    assert secrets.secret_names == ("api_key", "token") and secrets.node_ids == ("call",)
    assert isinstance(progress, ResumeInProgressError) and progress.active_run_id == "r2"


def test_an_error_without_or_with_garbled_details_still_maps_by_code() -> None:
    plain = from_rpc_error(rpc_error(grpc.StatusCode.NOT_FOUND, "gone"))
    garbled = from_rpc_error(rpc_error(grpc.StatusCode.NOT_FOUND, "gone", details_bytes=b"\xff\x00garbage"))

    for error in (plain, garbled):
        assert isinstance(error, NotFoundError)
        assert error.reason == "NOT_FOUND" and error.metadata == {} and error.violations == ()


# --- against the real services ---------------------------------------------------------------------


async def test_an_unknown_run_is_not_found_with_its_reason_and_the_rpc_error_as_cause(client: Client) -> None:
    with pytest.raises(NotFoundError) as raised:
        await client.get_run("does-not-exist")

    assert raised.value.reason == "RUN_NOT_FOUND"
    assert raised.value.metadata["run_id"] == "does-not-exist"
    assert isinstance(raised.value.__cause__, grpc.aio.AioRpcError)


async def test_an_invalid_workflow_lists_every_problem(client: Client) -> None:
    broken = {
        "id": "broken",
        "nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "no-such-type"}],
        "edges": [{"source": "a", "target": "ghost"}],
    }

    with pytest.raises(InvalidArgumentError) as raised:
        await client.apply_workflow(broken)

    fields = " ".join(f"{v.field} {v.description}" for v in raised.value.violations)
    assert len(raised.value.violations) >= 3
    assert "start" in fields and "ghost" in fields and "no-such-type" in fields


async def test_resuming_with_nothing_to_resume_is_no_failed_run(client: Client) -> None:
    await client.apply_workflow(parallel_workflow())
    assert (
        await client.run("parallel", inputs={"trail": ""}, env={"fail": "", "fail2": ""})
    ).status.name == ("SUCCEEDED")

    with pytest.raises(NoFailedRunError) as raised:
        await client.resume("parallel")
    with pytest.raises(NoFailedRunError):
        await client.latest_failed("parallel")

    assert raised.value.reason == "NO_FAILED_RUN"
    assert isinstance(raised.value, FailedPreconditionError)


async def test_a_resume_without_the_secrets_names_them(client: Client) -> None:
    await client.apply_workflow(secret_workflow())
    await client.run("needs-key", secrets={"api_key": "k-1"}, env={"fail": "call"})

    with pytest.raises(MissingSecretsError) as raised:
        await client.resume("needs-key", env={"fail": ""})

    assert raised.value.secret_names == ("api_key",)
    assert raised.value.node_ids == ("call",)
    assert "api_key" in raised.value.message


async def test_a_second_concurrent_resume_is_resume_in_progress_naming_the_first(client: Client) -> None:
    await client.apply_workflow(
        {
            "id": "slow-fix",
            "nodes": [
                {"id": "start", "type": "start"},
                {"id": "check", "type": "assert", "config": {"assertions": ["env.mode != 'broken'"]}},
                {
                    "id": "wait",
                    "type": "delay",
                    "config": {"seconds": "{{ 0.5 if env.mode == 'slow' else 0 }}"},
                },
                {"id": "end", "type": "end"},
            ],
            "edges": [
                {"source": "start", "target": "check"},
                {"source": "check", "target": "wait"},
                {"source": "wait", "target": "end"},
            ],
        }
    )
    await client.run("slow-fix", env={"mode": "broken"})
    first = client.resume("slow-fix", env={"mode": "slow"})
    accepted = await first.start()

    with pytest.raises(ResumeInProgressError) as raised:
        await client.resume("slow-fix", env={"mode": "slow"})

    assert raised.value.active_run_id == accepted.run.id
    assert (await asyncio.wait_for(first.result(), 10)).status.name == "SUCCEEDED"


async def test_an_unreachable_service_is_unavailable() -> None:
    client = await Client.connect("127.0.0.1:1", history_address="127.0.0.1:1", timeout=5)
    try:
        with pytest.raises(UnavailableError):
            await client.get_run("x")
        with pytest.raises(UnavailableError):
            await client.run("x")
    finally:
        await client.close()


async def test_a_rejection_with_more_violations_than_fit_reports_their_total(client: Client) -> None:
    nodes = [{"id": "start", "type": "start"}] + [{"id": f"n{i}", "type": "teleport"} for i in range(500)]
    edges = [{"source": "start", "target": f"n{i}"} for i in range(500)]

    with pytest.raises(InvalidArgumentError) as raised:
        await client.apply_workflow({"id": "many", "nodes": nodes, "edges": edges})

    assert raised.value.reason == "INVALID_WORKFLOW"
    assert raised.value.total_violations == 500
    assert 0 < len(raised.value.violations) < 500
    assert raised.value.violations[0].field == "workflow.nodes[1].type"


def test_total_violations_falls_back_to_the_violations_received() -> None:
    counted = from_rpc_error(
        rpc_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            "bad",
            "INVALID_ARGUMENT",
            {"total_violations": "7"},
            [("a", "b")],
        )
    )
    uncounted = from_rpc_error(rpc_error(grpc.StatusCode.INVALID_ARGUMENT, "bad", "X", {}, [("a", "b")]))

    assert (counted.total_violations, uncounted.total_violations) == (7, 1)
