"""HistoryService over gRPC: each method converts the request, calls `History`, converts back."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence

import grpc

from history_service.history import History
from resumeflow.v1 import history_service_pb2 as pb
from resumeflow.v1 import history_service_pb2_grpc as pb_grpc
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import FieldViolation, InvalidArgumentError
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS
from resumeflow_core.reasons import REQUIRED
from resumeflow_core.records import Event, RunEnd, RunStart
from resumeflow_core.rpc import convert
from resumeflow_core.rpc.boundary import stream_rpc, unary_rpc
from resumeflow_core.rpc.registration import rewriting
from resumeflow_core.status import RunStatus


class HistoryServicer(pb_grpc.HistoryServiceServicer):
    def __init__(self, history: History) -> None:
        self._history = history
        self._store = history.store
        self._workflow_messages: BoundedCache[tuple[str, int], workflow_pb2.Workflow] = BoundedCache(256)
        # Serialized WatchRun batches by (run, first sequence, last sequence), shared by the
        # watchers of a run that keep up; a few hundred recent ones cover every live tail.
        self._watch_messages: BoundedCache[tuple[str, int, int], bytes] = BoundedCache(256)

    @unary_rpc
    async def PutWorkflow(
        self, request: pb.PutWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> pb.PutWorkflowResponse:
        if not request.HasField("workflow"):
            raise _missing("workflow")
        workflow, changed = await self._history.put_workflow(convert.workflow_from_proto(request.workflow))
        return pb.PutWorkflowResponse(workflow=convert.workflow_to_proto(workflow), changed=changed)

    @unary_rpc
    async def GetWorkflow(
        self, request: pb.GetWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWorkflowResponse:
        workflow = await self._history.get_workflow(
            convert.identifier(request.workflow_id, "workflow_id"), request.version
        )
        # Versions never change: convert each once (a 1,000-node workflow costs milliseconds).
        message = self._workflow_messages.get_or_create(
            (workflow.id, workflow.version), lambda: convert.workflow_to_proto(workflow)
        )
        return pb.GetWorkflowResponse(workflow=message)

    @unary_rpc
    async def ListWorkflows(
        self, request: pb.ListWorkflowsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWorkflowsResponse:
        workflows, token = await self._store.list_workflows(request.page_size, request.page_token)
        return pb.ListWorkflowsResponse(
            workflows=[convert.workflow_to_proto(w) for w in workflows],
            next_page_token=token,
        )

    @unary_rpc
    async def GetRun(self, request: pb.GetRunRequest, context: grpc.aio.ServicerContext) -> pb.GetRunResponse:
        run = await self._store.get_run(convert.identifier(request.run_id, "run_id"))
        return pb.GetRunResponse(run=convert.run_to_proto(run))

    @unary_rpc
    async def ListRuns(
        self, request: pb.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListRunsResponse:
        statuses = [convert.member(RunStatus, s, f"statuses[{i}]") for i, s in enumerate(request.statuses)]
        runs, token = await self._store.list_runs(
            convert.identifier(request.workflow_id, "workflow_id", required=False),
            statuses,
            request.page_size,
            request.page_token,
        )
        return pb.ListRunsResponse(
            runs=[convert.run_to_proto(run, with_results=False) for run in runs],
            next_page_token=token,
        )

    @unary_rpc
    async def ResolveRunId(
        self, request: pb.ResolveRunIdRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveRunIdResponse:
        return pb.ResolveRunIdResponse(run_id=await self._history.resolve_run_id(request.prefix))

    @unary_rpc
    async def GetLatestFailed(
        self, request: pb.GetLatestFailedRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLatestFailedResponse:
        run, failed = await self._history.latest_failed(
            convert.identifier(request.workflow_id, "workflow_id")
        )
        return pb.GetLatestFailedResponse(
            run=convert.run_to_proto(run, with_results=False),
            failed_nodes=[
                pb.FailedNode(node_id=f.node_id, label=f.label, type=f.type, error_message=f.error_message)
                for f in failed
            ],
        )

    @unary_rpc
    async def GetLineageContext(
        self, request: pb.GetLineageContextRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLineageContextResponse:
        lineage = await self._history.lineage_context(convert.identifier(request.run_id, "run_id"))
        response = pb.GetLineageContextResponse(
            lineage=[convert.run_to_proto(run, with_results=False) for run in lineage.runs],
            variables=convert.struct(lineage.variables),
        )
        convert.add_node_results(response.node_results, lineage.results.values())
        return response

    @stream_rpc
    async def WatchRun(
        self, request: pb.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Sends serialized WatchRunResponse messages; see `add_to_server`."""
        run_id = convert.identifier(request.run_id, "run_id")
        async for batch in self._history.watch(run_id, request.after_sequence):
            # Watchers that keep up receive the same batches: convert and serialize each once for
            # all of them (200 watchers of a 1,000-node run otherwise serialize 28 MB apiece).
            key = (run_id, batch[0].sequence, batch[-1].sequence)
            yield self._watch_messages.get_or_create(key, functools.partial(_serialized_batch, batch))

    @unary_rpc
    async def CreateRun(
        self, request: pb.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateRunResponse:
        if not request.HasField("run"):
            raise _missing("run")
        run = convert.run_from_proto(request.run)
        convert.identifier(run.workflow_id, "run.workflow_id")
        start = RunStart(
            run,
            node_ids=convert.identifiers(request.node_ids, "node_ids"),
            runner_id=convert.identifier(request.runner_id, "runner_id"),
            lease_seconds=_lease(request),
            preset_results=convert.node_results_from_proto(request.node_results, "node_results"),
            copied_node_ids=convert.identifiers(request.copied_node_ids, "copied_node_ids"),
        )
        stored, existing = await self._history.create_run(start)
        return pb.CreateRunResponse(run=convert.run_to_proto(stored, with_results=False), existing=existing)

    @unary_rpc
    async def AppendEvents(
        self, request: pb.AppendEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendEventsResponse:
        run_id = convert.identifier(request.run_id, "run_id")
        last_sequence, cancel_requested = await self._history.append_events(
            run_id,
            convert.identifier(request.runner_id, "runner_id"),
            convert.events_from_proto(request.events, "events"),
            convert.node_results_from_proto(request.node_results, "node_results"),
        )
        self._prepare_watch_batch(run_id, request.events)
        return pb.AppendEventsResponse(last_sequence=last_sequence, cancel_requested=cancel_requested)

    @unary_rpc
    async def FinishRun(
        self, request: pb.FinishRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.FinishRunResponse:
        if not request.HasField("event"):
            raise _missing("event")
        run_id = convert.identifier(request.run_id, "run_id")
        end = RunEnd(
            status=convert.member(RunStatus, request.status, "status"),
            event=convert.event_from_proto(request.event),
            failed_node_ids=convert.identifiers(request.failed_node_ids, "failed_node_ids"),
            variables=convert.from_struct(request.variables, "variables"),
            error_summary=convert.text(request.error_summary, "error_summary"),
        )
        run = await self._history.finish_run(
            run_id,
            convert.identifier(request.runner_id, "runner_id"),
            end,
            events=convert.events_from_proto(request.events, "events"),
            node_results=convert.node_results_from_proto(request.node_results, "node_results"),
        )
        if request.event.run_status == request.status:  # else the history filled it in
            self._prepare_watch_batch(run_id, [*request.events, request.event])
        return pb.FinishRunResponse(run=convert.run_to_proto(run, with_results=False))

    def _prepare_watch_batch(self, run_id: str, events: Sequence[run_pb2.Event]) -> None:
        """Serialize a just-stored batch for the run's watchers from the request's own messages.

        The append woke the watchers, which will ask for exactly this batch; none of them runs
        before this handler next awaits, so the entry is in place when they look. Converting the
        stored records back would cost a few milliseconds per thousand events. Skipped when a
        time is finer than the microseconds the database keeps: watchers must see what a replay
        shows.
        """
        if events and self._history.hub.watched(run_id) and all(e.time.nanos % 1000 == 0 for e in events):
            key = (run_id, events[0].sequence, events[-1].sequence)
            self._watch_messages.put(key, pb.WatchRunResponse(events=events).SerializeToString())

    @unary_rpc
    async def HeartbeatRun(
        self, request: pb.HeartbeatRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.HeartbeatRunResponse:
        expires, cancel_requested = await self._history.heartbeat(
            convert.identifier(request.run_id, "run_id"),
            convert.identifier(request.runner_id, "runner_id"),
            _lease(request),
        )
        return pb.HeartbeatRunResponse(
            lease_expire_time=convert.timestamp(expires),
            cancel_requested=cancel_requested,
        )

    @unary_rpc
    async def RequestCancel(
        self, request: pb.RequestCancelRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestCancelResponse:
        status = await self._store.request_cancel(convert.identifier(request.run_id, "run_id"))
        return pb.RequestCancelResponse(status=int(status))  # type: ignore[arg-type]


def _lease(request: pb.CreateRunRequest | pb.HeartbeatRunRequest) -> float:
    if not request.HasField("lease_duration"):
        return DEFAULT_LEASE_SECONDS
    return convert.seconds(request.lease_duration, "lease_duration")


def _missing(field: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{field} is required",
        violations=[FieldViolation(field, "must be set", REQUIRED)],
    )


def _serialized_batch(batch: list[Event]) -> bytes:
    response = pb.WatchRunResponse()
    convert.add_events(response.events, batch)
    return response.SerializeToString()


WATCH_RUN_METHOD = "/resumeflow.v1.HistoryService/WatchRun"


def add_to_server(servicer: HistoryServicer, server: grpc.aio.Server) -> None:
    """Register the generated handlers, except that WatchRun's responses leave serialized already."""
    pb_grpc.add_HistoryServiceServicer_to_server(servicer, rewriting(server, _pre_serialized_watch_run))


def _pre_serialized_watch_run(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    if method != WATCH_RUN_METHOD:
        return handler
    # Without a serializer grpc sends the handler's bytes as they are.
    return grpc.unary_stream_rpc_method_handler(
        handler.unary_stream, request_deserializer=handler.request_deserializer, response_serializer=None
    )
