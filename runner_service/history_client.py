"""The runner's client of the history service: domain objects in, domain objects and errors out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

import grpc

from resumeflow.v1 import history_service_pb2 as pb
from resumeflow.v1 import history_service_pb2_grpc as pb_grpc
from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import PermissionDeniedError, UnauthenticatedError, UnavailableError
from resumeflow_core.limits import MAX_MESSAGE_BYTES
from resumeflow_core.lineage import FailedNode, LineageContext
from resumeflow_core.records import Event, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.rpc import convert
from resumeflow_core.rpc.errors import from_rpc_error
from resumeflow_core.status import RunStatus
from resumeflow_core.workflow import Workflow

CALL_TIMEOUT = 30.0  # seconds for one read of the history service
WRITE_TIMEOUT = 10.0  # seconds for one write: a frozen history must not hold a run's recording
CREDENTIAL_CHECK_TIMEOUT = 5.0  # seconds the start-up check of the runner credential may take
WORKFLOW_CACHE_SIZE = 256  # converted workflow versions kept in memory
MESSAGE_MARGIN = 16 * 1024  # bytes kept free below the message limit, for gRPC's own framing
MAX_WRITE_BYTES = MAX_MESSAGE_BYTES - MESSAGE_MARGIN
"""The largest AppendEvents/FinishRun the runner sends, serialized; more is split in several."""

CHANNEL_OPTIONS = [
    # Reconnect soon after the history comes back (gRPC's default backoff grows to 120 s), so a
    # run's lease is renewed well within one lease period of a history restart.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
"""Options of the runner's channel to the history service, besides the shared ones."""


class HistoryClient:
    """Calls HistoryService; every RpcError comes back as the matching ResumeflowError."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.HistoryServiceStub(channel)
        self._workflows: BoundedCache[tuple[str, int], Workflow] = BoundedCache(WORKFLOW_CACHE_SIZE)

    async def _call(self, method: Any, request: Any, timeout: float = CALL_TIMEOUT) -> Any:
        try:
            return await method(request, timeout=timeout)
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

    async def create_run(self, start: RunStart) -> tuple[Run, bool]:
        request = pb.CreateRunRequest(
            run=convert.run_to_proto(start.run, with_results=False),
            runner_id=start.runner_id,
            lease_duration=convert.duration(start.lease_seconds),
            node_results=[convert.node_result_to_proto(r) for r in start.preset_results],
            node_ids=start.node_ids,
            copied_node_ids=start.copied_node_ids,
        )
        response = await self._call(self._stub.CreateRun, request)
        return convert.run_from_proto(response.run), response.existing

    async def append_events(
        self, run_id: str, runner_id: str, events: Sequence[Event], node_results: Sequence[NodeResult]
    ) -> bool:
        """Append events and results, in several consecutive calls when they exceed one message.

        Returns:
            Whether the run's cancellation was requested.
        """
        request = pb.AppendEventsRequest(run_id=run_id, runner_id=runner_id)
        convert.add_events(request.events, events)
        convert.add_node_results(request.node_results, node_results)
        cancel_requested = False
        for part in _split(request, MAX_WRITE_BYTES):
            response = await self._call(self._stub.AppendEvents, part, WRITE_TIMEOUT)
            cancel_requested |= response.cancel_requested
        return cancel_requested

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        end: RunEnd,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run:
        """Finish the run; events and results beyond one message go ahead in AppendEvents calls."""
        request = pb.FinishRunRequest(
            run_id=run_id,
            runner_id=runner_id,
            status=int(end.status),  # type: ignore[arg-type]
            failed_node_ids=end.failed_node_ids,
            variables=convert.struct(end.variables),
            error_summary=end.error_summary,
            event=convert.event_to_proto(end.event),
        )
        convert.add_events(request.events, events)
        convert.add_node_results(request.node_results, node_results)
        *ahead, last = _split(request, MAX_WRITE_BYTES)
        for part in ahead:
            appended = pb.AppendEventsRequest(run_id=run_id, runner_id=runner_id)
            appended.events.extend(part.events)
            appended.node_results.extend(part.node_results)
            await self._call(self._stub.AppendEvents, appended, WRITE_TIMEOUT)
        response = await self._call(self._stub.FinishRun, last, WRITE_TIMEOUT)
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

    async def heartbeat(
        self, run_id: str, runner_id: str, lease_seconds: float, *, timeout: float | None = None
    ) -> bool:
        request = pb.HeartbeatRunRequest(
            run_id=run_id, runner_id=runner_id, lease_duration=convert.duration(lease_seconds)
        )
        response = await self._call(self._stub.HeartbeatRun, request, timeout or WRITE_TIMEOUT)
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


_Write = TypeVar("_Write", pb.AppendEventsRequest, pb.FinishRunRequest)


def _split(request: _Write, limit: int) -> list[_Write]:
    """`request` as consecutive requests of at most `limit` bytes each, split between events.

    Each node result goes with the last event of its node in the batch (the event that left the
    node in that state), so every part is a consistent step of the run. One event with its
    results is never divided: a node's result is bounded far below a message.
    """
    if request.ByteSize() <= limit or not request.events:
        return [request]
    budget = limit - (request.ByteSize() - _items_size(request))  # what the other fields leave
    owner = {event.node_id: index for index, event in enumerate(request.events)}
    last = len(request.events) - 1
    results_after: dict[int, list[Any]] = {}
    for result in request.node_results:
        results_after.setdefault(owner.get(result.node_id, last), []).append(result)
    envelope = type(request)()
    envelope.CopyFrom(request)
    del envelope.events[:]
    del envelope.node_results[:]
    parts: list[_Write] = []
    size = 0
    for index, event in enumerate(request.events):
        results = results_after.get(index, [])
        step = _item_size(event) + sum(_item_size(result) for result in results)
        if not parts or (size and size + step > budget):
            parts.append(type(request)())
            parts[-1].CopyFrom(envelope)
            size = 0
        parts[-1].events.append(event)
        parts[-1].node_results.extend(results)
        size += step
    return parts


def _items_size(request: pb.AppendEventsRequest | pb.FinishRunRequest) -> int:
    return sum(map(_item_size, request.events)) + sum(map(_item_size, request.node_results))


def _item_size(message: Any) -> int:
    """Bytes one element of a repeated field takes in its message: tag, length and body."""
    size = int(message.ByteSize())
    return size + 1 + _varint_size(size)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)
