"""RunnerService over gRPC: each method converts the request, calls `Runner`, converts back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from resumeflow.v1 import runner_service_pb2 as pb
from resumeflow.v1 import runner_service_pb2_grpc as pb_grpc
from resumeflow_core.rpc import convert as shared_convert
from resumeflow_core.rpc.boundary import stream_rpc, unary_rpc
from runner_service import convert
from runner_service.runner import Runner


class RunnerServicer(pb_grpc.RunnerServiceServicer):
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    @stream_rpc
    async def RunWorkflow(
        self, request: pb.RunWorkflowRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RunWorkflowResponse]:
        # The run lives in the runner, not in this call: a client that goes away only stops following.
        stream = await self._runner.start_run(convert.run_request_from_proto(request))
        yield convert.accepted_to_proto(stream.accepted)
        async for item in stream.items:
            yield convert.stream_item_to_proto(item)

    @unary_rpc
    async def PlanResume(
        self, request: pb.PlanResumeRequest, context: grpc.aio.ServicerContext
    ) -> pb.PlanResumeResponse:
        resume = convert.resume_from_proto(request.resume)
        workflow_id = shared_convert.identifier(request.workflow_id, "workflow_id")
        prepared = await self._runner.plan_resume(workflow_id, resume, list(request.secret_names))
        return convert.plan_to_proto(prepared)

    @unary_rpc
    async def CancelRun(
        self, request: pb.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelRunResponse:
        status = await self._runner.cancel(shared_convert.identifier(request.run_id, "run_id"))
        return pb.CancelRunResponse(status=int(status))  # type: ignore[arg-type]
