"""Conversion between database rows and the domain dataclasses, in both directions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row

from history_service.store.models import (
    EventRow,
    NodeResultRow,
    RunRow,
    WorkflowRow,
    WorkflowVersionRow,
)
from resumeflow_core.records import Event, NodeError, NodeResult, Run
from resumeflow_core.status import EventKind, NodeStatus, ResumeMode, RunStatus
from resumeflow_core.workflow import Edge, Node, RetryPolicy, Workflow

# --- workflows -------------------------------------------------------------------------


def definition_to_json(workflow: Workflow) -> dict[str, Any]:
    """The stored form of a workflow's graph: `{"nodes": [...], "edges": [...]}`."""
    return {
        "nodes": [_node_to_json(node) for node in workflow.nodes],
        "edges": [
            {"source": edge.source, "target": edge.target, "branch": edge.branch} for edge in workflow.edges
        ],
    }


def workflow_version_row(workflow: Workflow, version: int, create_time: datetime) -> WorkflowVersionRow:
    """The row of `workflow`'s definition stored as `version`."""
    return WorkflowVersionRow(
        workflow_id=workflow.id,
        version=version,
        name=workflow.name,
        definition=definition_to_json(workflow),
        node_hashes={node.id: node.definition_hash() for node in workflow.nodes},
        create_time=create_time,
    )


def workflow_from_rows(workflow: WorkflowRow, version: WorkflowVersionRow) -> Workflow:
    definition = version.definition
    return Workflow(
        id=workflow.id,
        name=version.name,
        nodes=tuple(_node_from_json(node) for node in definition.get("nodes", ())),
        edges=tuple(Edge(**edge) for edge in definition.get("edges", ())),
        version=version.version,
        create_time=workflow.create_time,
        update_time=version.create_time,
    )


def _node_to_json(node: Node) -> dict[str, Any]:
    retry = node.retry
    return {
        "id": node.id,
        "type": node.type,
        "label": node.label,
        "config": dict(node.config),
        "retry": None
        if retry is None
        else {
            "max_attempts": retry.max_attempts,
            "initial_backoff": retry.initial_backoff,
            "backoff_multiplier": retry.backoff_multiplier,
            "max_backoff": retry.max_backoff,
        },
        "timeout": node.timeout,
    }


def _node_from_json(data: Mapping[str, Any]) -> Node:
    retry = data.get("retry")
    return Node(
        id=data["id"],
        type=data["type"],
        label=data.get("label", ""),
        config=data.get("config") or {},
        retry=None if retry is None else RetryPolicy(**retry),
        timeout=data.get("timeout"),
    )


# --- runs ------------------------------------------------------------------------------


def run_to_row(
    run: Run,
    *,
    lineage: Sequence[str],
    runner_id: str,
    lease_seconds: float,
    cancel_requested: bool = False,
) -> RunRow:
    """A new `runs` row for `run`, whose id, status, times and lineage are already final; its
    lease expiry is the database's to set."""
    resuming = bool(run.resume_from_run_id)
    return RunRow(
        id=run.id,
        workflow_id=run.workflow_id,
        workflow_version=run.workflow_version,
        status=int(run.status),
        create_time=run.create_time,
        start_time=run.start_time,
        end_time=run.end_time,
        inputs=dict(run.inputs),
        environment_name=run.environment_name,
        environment=dict(run.environment),
        failed_node_ids=list(run.failed_node_ids),
        variables=dict(run.variables),
        error_summary=run.error_summary,
        request_id=run.request_id or None,
        resume_from_run_id=run.resume_from_run_id or None,
        resume_from_node_ids=list(run.resume_from_node_ids),
        resume_mode=int(run.resume_mode),
        root_run_id=run.root_run_id,
        lineage_depth=run.lineage_depth,
        lineage=list(lineage),
        last_sequence=run.last_sequence,
        runner_id=runner_id,
        lease_expire_time=None,
        lease_seconds=lease_seconds,
        cancel_requested=cancel_requested,
        active_resume_of=run.resume_from_run_id if resuming else None,
        resolved=False,
    )


def run_from_row(row: RunRow | Row[Any], results: Iterable[NodeResult] = ()) -> Run:
    return Run(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_version=row.workflow_version,
        status=RunStatus(row.status),
        create_time=row.create_time,
        start_time=row.start_time,
        end_time=row.end_time,
        inputs=row.inputs,
        environment_name=row.environment_name,
        environment=row.environment,
        failed_node_ids=row.failed_node_ids,
        variables=row.variables,
        error_summary=row.error_summary,
        request_id=row.request_id or "",
        resume_from_run_id=row.resume_from_run_id or "",
        resume_from_node_ids=row.resume_from_node_ids,
        resume_mode=ResumeMode(row.resume_mode),
        root_run_id=row.root_run_id,
        lineage_depth=row.lineage_depth,
        last_sequence=row.last_sequence,
        node_results=list(results),
    )


# --- node results ----------------------------------------------------------------------


def node_result_values(result: NodeResult, *, run_id: str, position: int | None = None) -> dict[str, Any]:
    """The columns of `result`'s row, as statement parameters.

    Always the same keys (`position` only when given), so that a batch of them is
    sent as one executemany.
    """
    error = result.error
    values = {
        "run_id": run_id,
        "node_id": result.node_id,
        "status": int(result.status),
        "attempts": result.attempts,
        "start_time": result.start_time,
        "end_time": result.end_time,
        "output": result.output,
        "variables": dict(result.variables),
        "error_code": None if error is None else error.code,
        "error_message": None if error is None else error.message,
        "source_run_id": result.source_run_id,
        "finish_sequence": result.finish_sequence,
        "definition_hash": result.definition_hash,
    }
    if position is not None:
        values["position"] = position
    return values


def node_result_from_row(row: NodeResultRow | Row[Any]) -> NodeResult:
    error = None
    if row.error_code is not None:
        error = NodeError(code=row.error_code, message=row.error_message or "")
    return NodeResult(
        node_id=row.node_id,
        status=NodeStatus(row.status),
        attempts=row.attempts,
        start_time=row.start_time,
        end_time=row.end_time,
        output=row.output,
        variables=row.variables,
        error=error,
        source_run_id=row.source_run_id,
        finish_sequence=row.finish_sequence,
        definition_hash=row.definition_hash,
    )


# --- events ----------------------------------------------------------------------------


def event_values(run_id: str, event: Event) -> dict[str, Any]:
    """The `events` row of `event`, as insert parameters."""
    return {
        "run_id": run_id,
        "sequence": event.sequence,
        "time": event.time,
        "kind": int(event.kind),
        "node_id": event.node_id,
        "node_status": int(event.node_status),
        "attempt": event.attempt,
        "message": event.message,
        "run_status": int(event.run_status),
    }


def event_from_row(row: EventRow | Row[Any]) -> Event:
    return Event(
        run_id=row.run_id,
        sequence=row.sequence,
        time=row.time,
        kind=EventKind(row.kind),
        node_id=row.node_id,
        node_status=NodeStatus(row.node_status),
        attempt=row.attempt,
        message=row.message,
        run_status=RunStatus(row.run_status),
    )
