"""The runner's client of the history service: domain objects in, domain objects and errors out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from resumeflow.v1 import history_service_pb2 as pb
from resumeflow.v1 import history_service_pb2_grpc as pb_grpc
from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import PermissionDeniedError, UnauthenticatedError, UnavailableError
from resumeflow_core.lineage import FailedNode, LineageContext
from resumeflow_core.records import Event, NodeResult, Run
from resumeflow_core.rpc import convert
from resumeflow_core.rpc.errors import from_rpc_error
from resumeflow_core.status import RunStatus
from resumeflow_core.workflow import Workflow

CALL_TIMEOUT = 30.0  # seconds for one unary call to the history service
CREDENTIAL_CHECK_TIMEOUT = 5.0  # seconds the start-up check of the runner credential may take
WORKFLOW_CACHE_SIZE = 256  # converted workflow versions kept in memory


class HistoryClient:
    """Calls HistoryService; every RpcError comes back as the matching ResumeflowError."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.HistoryServiceStub(channel)
        self._workflows: BoundedCache[tuple[str, int], Workflow] = BoundedCache(WORKFLOW_CACHE_SIZE)

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    async def get_workflow(self, workflow_id: str, version: int = 0) -> Workflow:
        response = await self._call(
            self._stub.GetWorkflow, pb.GetWorkflowRequest(workflow_id=workflow_id, version=version)
        )
        # Versions never change: convert each once (a 1,000-node workflow costs milliseconds).
        key = (response.workflow.id, response.workflow.version)
        return self._workflows.get_or_create(key, lambda: convert.workflow_from_proto(response.workflow))

    async def get_run(self, run_id: str) -> Run:
        response = await self._call(self._stub.GetRun, pb.GetRunRequest(run_id=run_id))
        return convert.run_from_proto(response.run)

    async def get_latest_failed(self, workflow_id: str) -> tuple[Run, list[FailedNode]]:
        response = await self._call(
            self._stub.GetLatestFailed, pb.GetLatestFailedRequest(workflow_id=workflow_id)
        )
        failed = [FailedNode(f.node_id, f.label, f.type, f.error_message) for f in response.failed_nodes]
        return convert.run_from_proto(response.run), failed

    async def get_lineage_context(self, run_id: str) -> LineageContext:
        response = await self._call(self._stub.GetLineageContext, pb.GetLineageContextRequest(run_id=run_id))
        results = [convert.node_result_from_proto(r) for r in response.node_results]
        return LineageContext(
            runs=[convert.run_from_proto(run) for run in response.lineage],
            results={r.node_id: r for r in results},
            variables=convert.from_struct(response.variables),
        )

    async def create_run(
        self,
        run: Run,
        *,
        node_ids: Sequence[str],
        preset_results: Sequence[NodeResult] = (),
        runner_id: str,
        lease_seconds: float,
        copied_node_ids: Sequence[str] = (),
    ) -> tuple[Run, bool]:
        request = pb.CreateRunRequest(
            run=convert.run_to_proto(run, with_results=False),
            runner_id=runner_id,
            lease_duration=convert.duration(lease_seconds),
            node_results=[convert.node_result_to_proto(r) for r in preset_results],
            node_ids=node_ids,
            copied_node_ids=copied_node_ids,
        )
        response = await self._call(self._stub.CreateRun, request)
        return convert.run_from_proto(response.run), response.existing

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Sequence[NodeResult]
    ) -> bool:
        request = pb.AppendEventsRequest(run_id=run_id, runner_id=runner_id)
        convert.add_events(request.events, events)
        convert.add_node_results(request.node_results, node_results)
        response = await self._call(self._stub.AppendEvents, request)
        return bool(response.cancel_requested)

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        *,
        status: RunStatus,
        failed_node_ids: Sequence[str],
        variables: dict[str, Any],
        error_summary: str,
        event: Event,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run:
        request = pb.FinishRunRequest(
            run_id=run_id,
            runner_id=runner_id,
            status=int(status),  # type: ignore[arg-type]
            failed_node_ids=failed_node_ids,
            variables=convert.struct(variables),
            error_summary=error_summary,
            event=convert.event_to_proto(event),
        )
        convert.add_events(request.events, events)
        convert.add_node_results(request.node_results, node_results)
        response = await self._call(self._stub.FinishRun, request)
        return convert.run_from_proto(response.run)

    async def check_credential(self) -> None:
        """Make sure the history accepts this runner's writes, with a heartbeat of no run at all.

        The history checks the credential before it reads the request, so any other answer (the
        empty run id is INVALID_ARGUMENT, and touches no data) means the writes will be accepted.

        Raises:
            UnauthenticatedError: The history does not know the runner's token.
            PermissionDeniedError: The runner sends a client token, not the runner token.
            UnavailableError: The history cannot be reached.
        """
        request = pb.HeartbeatRunRequest(run_id="", runner_id="credential-check")
        try:
            await self._stub.HeartbeatRun(request, timeout=CREDENTIAL_CHECK_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            error = from_rpc_error(exc)
            if isinstance(error, UnauthenticatedError | PermissionDeniedError | UnavailableError):
                raise error from exc

    async def heartbeat(self, run_id: str, runner_id: str, lease_seconds: float) -> bool:
        request = pb.HeartbeatRunRequest(
            run_id=run_id, runner_id=runner_id, lease_duration=convert.duration(lease_seconds)
        )
        response = await self._call(self._stub.HeartbeatRun, request)
        return bool(response.cancel_requested)

    async def request_cancel(self, run_id: str) -> RunStatus:
        response = await self._call(self._stub.RequestCancel, pb.RequestCancelRequest(run_id=run_id))
        return RunStatus(response.status)

    async def watch_run(self, run_id: str, after_sequence: int = 0) -> AsyncIterator[list[Event]]:
        """The run's events after `after_sequence`, in the batches the history sends."""
        call = self._stub.WatchRun(pb.WatchRunRequest(run_id=run_id, after_sequence=after_sequence))
        try:
            async for response in call:
                yield [convert.event_from_proto(event) for event in response.events]
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()
