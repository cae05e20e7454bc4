"""Runner-facing writes need the runner credential; client tokens cannot forge run records."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from integration_helpers import error_details, node, start_services, stop_services, workflow

from history_service.server import HistoryServer, start_history_server
from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import history_service_pb2_grpc, run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_core.errors import PermissionDeniedError, UnauthenticatedError
from resumeflow_core.rpc.security import Security
from runner_service.server import start_runner_server

CLIENT = "client-token"
RUNNER = "runner-token"

WRITES = {
    "CreateRun": hpb.CreateRunRequest(),
    "AppendEvents": hpb.AppendEventsRequest(),
    "FinishRun": hpb.FinishRunRequest(),
    "HeartbeatRun": hpb.HeartbeatRunRequest(),
}
_write_params = [pytest.param(name, id=name) for name in WRITES]


async def _history(url: str, security: Security) -> HistoryServer:
    return await start_history_server("127.0.0.1:0", url, security=security, reap_leases=False)


@pytest.fixture
async def stub(sqlite_database_url: str) -> AsyncIterator[history_service_pb2_grpc.HistoryServiceStub]:
    server = await _history(sqlite_database_url, Security(auth_token=CLIENT, runner_token=RUNNER))
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield history_service_pb2_grpc.HistoryServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(0)


def _bearer(token: str | None) -> list[tuple[str, str]]:
    return [] if token is None else [("authorization", f"Bearer {token}")]


async def _code(
    stub: history_service_pb2_grpc.HistoryServiceStub, method: str, request: object, token: str | None
) -> tuple[grpc.StatusCode, str]:
    try:
        await getattr(stub, method)(request, metadata=_bearer(token))
    except grpc.aio.AioRpcError as error:
        return error.code(), error_details(error)[0]
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("method", _write_params)
async def test_a_client_token_is_permission_denied_on_runner_writes(stub, method: str) -> None:
    assert await _code(stub, method, WRITES[method], CLIENT) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "RUNNER_CREDENTIAL_REQUIRED",
    )


@pytest.mark.parametrize("method", _write_params)
@pytest.mark.parametrize("token", [pytest.param(None, id="missing"), pytest.param("wrong", id="wrong")])
async def test_a_missing_or_wrong_token_is_unauthenticated_on_runner_writes(
    stub, method: str, token: str | None
) -> None:
    code, _ = await _code(stub, method, WRITES[method], token)

    assert code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("method", _write_params)
async def test_the_runner_token_passes_the_runner_writes(stub, method: str) -> None:
    code, _ = await _code(stub, method, WRITES[method], RUNNER)

    # The empty request itself is rejected, after authentication.
    assert code == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        pytest.param("GetRun", hpb.GetRunRequest(run_id="nope"), id="GetRun"),
        pytest.param("GetWorkflow", hpb.GetWorkflowRequest(workflow_id="nope"), id="GetWorkflow"),
        pytest.param(
            "GetLineageContext", hpb.GetLineageContextRequest(run_id="nope"), id="GetLineageContext"
        ),
    ],
)
async def test_the_runner_token_may_make_the_reads_a_runner_makes(
    stub, method: str, request_: object
) -> None:
    assert (await _code(stub, method, request_, RUNNER))[0] == grpc.StatusCode.NOT_FOUND
    assert (await _code(stub, method, request_, CLIENT))[0] == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("method", "request_"),
    [
        pytest.param("ListRuns", hpb.ListRunsRequest(), id="ListRuns"),
        pytest.param("ListWorkflows", hpb.ListWorkflowsRequest(), id="ListWorkflows"),
        pytest.param("PutWorkflow", hpb.PutWorkflowRequest(), id="PutWorkflow"),
    ],
)
async def test_the_runner_token_is_permission_denied_on_client_calls(
    stub, method: str, request_: object
) -> None:
    assert await _code(stub, method, request_, RUNNER) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "CLIENT_CREDENTIAL_REQUIRED",
    )


async def test_with_client_auth_and_no_runner_token_the_writes_are_refused_and_a_runner_cannot_start(
    sqlite_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = await _history(sqlite_database_url, Security(auth_token=CLIENT))
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "--runner-token" in r.getMessage()]
    assert len(warnings) == 1
    address = f"127.0.0.1:{server.port}"
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = history_service_pb2_grpc.HistoryServiceStub(channel)
            code = await _code(stub, "CreateRun", hpb.CreateRunRequest(), CLIENT)
        assert code == (grpc.StatusCode.PERMISSION_DENIED, "RUNNER_CREDENTIAL_REQUIRED")

        with pytest.raises(PermissionDeniedError) as refused:
            await start_runner_server("127.0.0.1:0", address, history_security=Security(auth_token=CLIENT))
        assert refused.value.message.startswith(
            f"the history service at {address} refuses this runner's writes"
        )
        assert "--runner-token" in refused.value.message and "\n" not in refused.value.message
    finally:
        await server.stop(0)


async def test_a_runner_with_a_wrong_runner_token_cannot_start(sqlite_database_url: str) -> None:
    server = await _history(sqlite_database_url, Security(auth_token=CLIENT, runner_token=RUNNER))
    try:
        with pytest.raises(UnauthenticatedError):
            await start_runner_server(
                "127.0.0.1:0",
                f"127.0.0.1:{server.port}",
                history_security=Security(auth_token=CLIENT, runner_token="not-it"),
            )
    finally:
        await server.stop(0)


async def test_a_runner_token_alone_guards_the_writes_and_leaves_client_calls_open(
    sqlite_database_url: str,
) -> None:
    started = await start_services(sqlite_database_url, Security(runner_token=RUNNER))
    try:
        code = await _code(started.history, "HeartbeatRun", hpb.HeartbeatRunRequest(), None)
        assert code[0] == grpc.StatusCode.UNAUTHENTICATED
        await started.put(workflow("tiny", [node("start", "start"), node("end", "end")], [("start", "end")]))

        messages = await started.run(rpb.RunWorkflowRequest(workflow_id="tiny"))  # recorded with its token

        assert messages[-1].finished.run.status == run_pb2.RunStatus.RUN_STATUS_SUCCEEDED
    finally:
        await stop_services(started)
