"""Conversion of the runner service's own messages; shared messages go through resumeflow_core.rpc.convert."""

from __future__ import annotations

from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as pb
from resumeflow_core.reasons import INVALID_RESUME
from resumeflow_core.records import Event
from resumeflow_core.rpc import convert
from resumeflow_core.status import ResumeMode
from runner_service.requests import Accepted, Finished, ResumeRequest, RunRequest
from runner_service.resume_preparation import PreparedResume


def run_request_from_proto(message: pb.RunWorkflowRequest) -> RunRequest:
    return RunRequest(
        workflow_id=message.workflow_id,
        inputs=convert.from_struct(message.inputs, "inputs"),
        environment_name=convert.text(message.environment.name, "environment.name"),
        environment=dict(message.environment.values),
        secrets=dict(message.secrets),
        request_id=message.request_id,
        max_concurrency=message.max_concurrency,
        resume=resume_from_proto(message.resume) if message.HasField("resume") else None,
    )


def resume_from_proto(message: run_pb2.ResumeSpec) -> ResumeRequest:
    mode = convert.member(ResumeMode, message.mode, "resume.mode")
    return ResumeRequest(
        source_run_id=convert.identifier(message.source_run_id, "resume.source_run_id", required=False),
        mode=mode or ResumeMode.SINGLE,
        start_node_ids=tuple(message.start_node_ids),
        rerun_changed_nodes=message.rerun_changed_nodes,
        pin_source_version=message.pin_source_version,
        plan_token=message.plan_token,
    )


def accepted_to_proto(accepted: Accepted) -> pb.RunWorkflowResponse:
    return pb.RunWorkflowResponse(
        accepted=pb.RunAccepted(
            run=convert.run_to_proto(accepted.run, with_results=False),
            restored_node_ids=accepted.restored_node_ids,
            existing=accepted.existing,
        )
    )


def stream_item_to_proto(item: list[Event] | Finished) -> pb.RunWorkflowResponse:
    if isinstance(item, Finished):
        return pb.RunWorkflowResponse(
            finished=pb.RunFinished(
                run=convert.run_to_proto(item.run, with_results=False), sequence=item.sequence
            )
        )
    response = pb.RunWorkflowResponse()
    response.events.SetInParent()  # the payload is `events` even when a batch is empty
    convert.add_events(response.events.events, item)
    return response


def plan_to_proto(prepared: PreparedResume) -> pb.PlanResumeResponse:
    resume = prepared.resume
    problems = [pb.PlanProblem(reason=p.reason, message=p.message) for p in resume.problems]
    problems += [
        pb.PlanProblem(reason=INVALID_RESUME, message=f"{v.field}: {v.description}")
        for v in resume.violations
    ]
    return pb.PlanResumeResponse(
        source_run_id=resume.source_run_id,
        start_node_ids=resume.start_node_ids,
        mode=int(resume.mode),  # type: ignore[arg-type]
        nodes=[
            pb.PlannedNode(
                node_id=n.node_id,
                fate=int(n.fate),  # type: ignore[arg-type]
                source_run_id=n.source_run_id,
                reason=n.reason,
            )
            for n in resume.nodes
        ],
        problems=problems,
        plan_token=prepared.token,
        workflow_version=prepared.workflow.version,
    )
