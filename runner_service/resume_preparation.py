"""Prepares a resume, the I/O around the engine's pure planner (`engine/resume_plan.py`): finds
the source run, reads its lineage and workflow versions, plans, checks a plan token
(`plan_token.py`), and turns the planner's verdicts into domain errors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from resumeflow_core.errors import FailedPreconditionError, InvalidArgumentError
from resumeflow_core.lineage import LineageContext
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.reasons import (
    INVALID_RESUME,
    MISSING_PRIOR_RESULT,
    MISSING_SECRET,
    PLAN_STALE,
    SOURCE_NOT_FAILED,
    SOURCE_OTHER_WORKFLOW,
    WORKFLOW_DRIFT,
)
from resumeflow_core.workflow import Workflow
from runner_service.engine import ExecutionPlan, LineageView, ResumePlan, plan_resume
from runner_service.history_client import HistoryClient
from runner_service.plan_token import PlanToken
from runner_service.requests import ResumeRequest

# When a resume has several problems, the status carries the most fundamental one's reason;
# the message and the `reasons` metadata list all of them.
_REASON_PRECEDENCE = (
    SOURCE_OTHER_WORKFLOW,
    SOURCE_NOT_FAILED,
    MISSING_PRIOR_RESULT,
    WORKFLOW_DRIFT,
    MISSING_SECRET,
)


@dataclass(frozen=True)
class PreparedResume:
    """A planned resume, not yet checked for problems."""

    workflow: Workflow
    """The workflow version the resume runs."""
    plan: ExecutionPlan
    lineage: LineageContext
    """The source run's lineage."""
    resume: ResumePlan
    token: str
    """The plan token a client may pass back to run exactly this plan."""


async def prepare_resume(
    history: HistoryClient,
    plan_for: Callable[[Workflow], ExecutionPlan],
    workflow_id: str,
    request: ResumeRequest,
    *,
    secret_names: Collection[str],
    inputs: Mapping[str, Any] | None,
    registry: NodeTypeRegistry,
    recorded: Callable[[str], LineageContext | None] = lambda run_id: None,
) -> PreparedResume:
    """Plan the resume `request` asks for.

    Raises:
        InvalidArgumentError: The plan token is malformed.
        FailedPreconditionError: NO_FAILED_RUN when no source is named and none is left.
        RunNotFoundError: The named source run does not exist.
    """
    pinned = PlanToken.decode(request.plan_token) if request.plan_token else None
    source_run_id = await _source_run_id(history, workflow_id, request, pinned)
    lineage, workflow, source_workflow = await _read_lineage_and_versions(
        history, workflow_id, source_run_id, pin_source_version=request.pin_source_version, recorded=recorded
    )
    plan = plan_for(workflow)
    resume = plan_resume(
        plan,
        LineageView(
            source=lineage.run,
            runs=lineage.runs,
            results=lineage.results,
            source_node_ids=frozenset(node.id for node in source_workflow.nodes),
        ),
        mode=request.mode,
        start_node_ids=request.start_node_ids,
        rerun_changed_nodes=request.rerun_changed_nodes,
        secret_names=secret_names,
        inputs=inputs,
        registry=registry,
    )
    token = PlanToken(lineage.run.id, workflow.version, resume.digest())
    if pinned is not None and pinned != token:
        raise FailedPreconditionError(
            "the plan token no longer matches: the source lineage or the workflow changed since it was "
            "planned; plan the resume again",
            reason=PLAN_STALE,
            metadata={"source_run_id": token.source_run_id, "workflow_version": str(workflow.version)},
        )
    return PreparedResume(workflow, plan, lineage, resume, token.encode())


async def _source_run_id(
    history: HistoryClient, workflow_id: str, request: ResumeRequest, pinned: PlanToken | None
) -> str:
    """The run to resume: the one named by the request or its plan token, else the latest failed."""
    named = request.source_run_id or (pinned.source_run_id if pinned else "")
    if named:
        return named
    source, _ = await history.get_latest_failed(workflow_id)
    return source.id


async def _read_lineage_and_versions(
    history: HistoryClient,
    workflow_id: str,
    source_run_id: str,
    *,
    pin_source_version: bool,
    recorded: Callable[[str], LineageContext | None],
) -> tuple[LineageContext, Workflow, Workflow]:
    """The source's lineage, the workflow version the resume runs (the latest, or with
    `pin_source_version` the source's own), and the version the source ran."""

    async def read_lineage() -> LineageContext:
        # A run this runner recorded to the end is known already; the history copies its results
        # in the database and rejects the resume there if any is gone.
        return recorded(source_run_id) or await history.get_lineage_context(source_run_id)

    if pin_source_version:
        lineage = await read_lineage()
        same_workflow = lineage.run.workflow_id == workflow_id
        workflow = await history.get_workflow(
            workflow_id, lineage.run.workflow_version if same_workflow else 0
        )
    else:  # independent reads: overlap them
        lineage, workflow = await asyncio.gather(read_lineage(), history.get_workflow(workflow_id))
    source = lineage.run
    if source.workflow_id == workflow_id and source.workflow_version == workflow.version:
        return lineage, workflow, workflow
    return lineage, workflow, await history.get_workflow(source.workflow_id, source.workflow_version)


def raise_if_rejected(resume: ResumePlan) -> None:
    """Raise the error a real resume of this plan is rejected with, if any.

    Raises:
        InvalidArgumentError: INVALID_RESUME, every bad start node listed as a field violation.
        FailedPreconditionError: the most fundamental problem's reason; all of them in the message.
    """
    if resume.violations:
        raise InvalidArgumentError(
            f"the resume request is invalid: {len(resume.violations)} problem(s)",
            reason=INVALID_RESUME,
            violations=resume.violations,
        )
    if not resume.problems:
        return
    problems = sorted(resume.problems, key=lambda p: _precedence(p.reason))
    first = problems[0]
    # Every problem's details, so a client can fix them all at once (the first's win a clash).
    metadata = {key: value for problem in reversed(problems) for key, value in problem.metadata.items()}
    metadata["reasons"] = ",".join(p.reason for p in problems)
    metadata.setdefault("source_run_id", resume.source_run_id)
    raise FailedPreconditionError(
        "; ".join(p.message for p in problems), reason=first.reason, metadata=metadata
    )


def _precedence(reason: str) -> int:
    return _REASON_PRECEDENCE.index(reason) if reason in _REASON_PRECEDENCE else len(_REASON_PRECEDENCE)
