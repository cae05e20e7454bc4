"""What the services answer, as frozen dataclasses and `IntEnum`s carrying the proto numbers.

Each dataclass is built by a private `_from_proto()` and keeps the message it came from in `.raw`.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_client._convert import (
    duration_to_seconds,
    struct_to_dict,
    timestamp_to_datetime,
    value_to_python,
)

_E = TypeVar("_E", bound=enum.IntEnum)


class RunStatus(enum.IntEnum):
    """The lifecycle state of a run."""

    UNSPECIFIED = run_pb2.RUN_STATUS_UNSPECIFIED
    QUEUED = run_pb2.RUN_STATUS_QUEUED
    RUNNING = run_pb2.RUN_STATUS_RUNNING
    SUCCEEDED = run_pb2.RUN_STATUS_SUCCEEDED
    FAILED = run_pb2.RUN_STATUS_FAILED
    CANCELLED = run_pb2.RUN_STATUS_CANCELLED

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class NodeStatus(enum.IntEnum):
    """The state of one node within one run."""

    UNSPECIFIED = run_pb2.NODE_STATUS_UNSPECIFIED
    PENDING = run_pb2.NODE_STATUS_PENDING
    RUNNING = run_pb2.NODE_STATUS_RUNNING
    SUCCEEDED = run_pb2.NODE_STATUS_SUCCEEDED
    FAILED = run_pb2.NODE_STATUS_FAILED
    SKIPPED = run_pb2.NODE_STATUS_SKIPPED
    RESTORED = run_pb2.NODE_STATUS_RESTORED
    BLOCKED = run_pb2.NODE_STATUS_BLOCKED
    CANCELLED = run_pb2.NODE_STATUS_CANCELLED


class ResumeMode(enum.IntEnum):
    """How a resume chooses the nodes it re-runs."""

    UNSPECIFIED = run_pb2.RESUME_MODE_UNSPECIFIED
    SINGLE = run_pb2.RESUME_MODE_SINGLE
    ALL_FAILED = run_pb2.RESUME_MODE_ALL_FAILED


class EventKind(enum.IntEnum):
    """The kind of an event in a run's log."""

    UNSPECIFIED = run_pb2.EVENT_KIND_UNSPECIFIED
    RUN_STARTED = run_pb2.EVENT_KIND_RUN_STARTED
    NODE_STATUS = run_pb2.EVENT_KIND_NODE_STATUS
    RUN_FINISHED = run_pb2.EVENT_KIND_RUN_FINISHED


class NodeFate(enum.IntEnum):
    """What a planned resume would do with a node."""

    UNSPECIFIED = rpb.NODE_FATE_UNSPECIFIED
    RERUN = rpb.NODE_FATE_RERUN
    RESTORED = rpb.NODE_FATE_RESTORED
    CARRIED_FAILURE = rpb.NODE_FATE_CARRIED_FAILURE
    BLOCKED = rpb.NODE_FATE_BLOCKED
    SKIPPED = rpb.NODE_FATE_SKIPPED


def _enum(cls: type[_E], number: int) -> _E:
    """The member for `number`; UNSPECIFIED (0) for a number a newer server added."""
    try:
        return cls(number)
    except ValueError:
        return cls(0)


# --- workflows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How a node's failed attempts are retried."""

    max_attempts: int
    """Total attempts, the first included; 0 or 1 means no retry."""
    initial_backoff: float | None
    """Seconds before the second attempt."""
    backoff_multiplier: float
    """Factor applied to each further wait; 0 means 2."""
    max_backoff: float | None
    """The longest wait in seconds; None means no cap."""

    @classmethod
    def _from_proto(cls, message: workflow_pb2.RetryPolicy) -> RetryPolicy:
        return cls(
            max_attempts=message.max_attempts,
            initial_backoff=duration_to_seconds(message, "initial_backoff"),
            backoff_multiplier=message.backoff_multiplier,
            max_backoff=duration_to_seconds(message, "max_backoff"),
        )


@dataclass(frozen=True)
class Node:
    """One step of a workflow."""

    id: str
    type: str
    label: str
    config: dict[str, Any]
    retry: RetryPolicy | None
    timeout: float | None
    """The time limit of one attempt in seconds; None means no limit."""
    raw: workflow_pb2.Node = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: workflow_pb2.Node) -> Node:
        return cls(
            id=message.id,
            type=message.type,
            label=message.label,
            config=struct_to_dict(message.config),
            retry=RetryPolicy._from_proto(message.retry) if message.HasField("retry") else None,
            timeout=duration_to_seconds(message, "timeout"),
            raw=message,
        )


@dataclass(frozen=True)
class Edge:
    """A dependency between two nodes; `branch` is `true`/`false` out of a condition node."""

    source: str
    target: str
    branch: str = ""

    @classmethod
    def _from_proto(cls, message: workflow_pb2.Edge) -> Edge:
        return cls(message.source, message.target, message.branch)


@dataclass(frozen=True)
class Workflow:
    """A stored workflow version."""

    id: str
    name: str
    version: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    create_time: dt.datetime | None
    update_time: dt.datetime | None
    raw: workflow_pb2.Workflow = field(repr=False, compare=False)

    def node(self, node_id: str) -> Node | None:
        """The node with this id, or None."""
        return next((node for node in self.nodes if node.id == node_id), None)

    @classmethod
    def _from_proto(cls, message: workflow_pb2.Workflow) -> Workflow:
        return cls(
            id=message.id,
            name=message.name,
            version=message.version,
            nodes=tuple(Node._from_proto(node) for node in message.nodes),
            edges=tuple(Edge._from_proto(edge) for edge in message.edges),
            create_time=timestamp_to_datetime(message, "create_time"),
            update_time=timestamp_to_datetime(message, "update_time"),
            raw=message,
        )


@dataclass(frozen=True)
class AppliedWorkflow:
    """The outcome of applying a workflow definition."""

    workflow: Workflow
    """The workflow as stored, with its version."""
    changed: bool
    """False when the definition equalled the latest version, which is then unchanged."""

    @classmethod
    def _from_proto(cls, message: hpb.PutWorkflowResponse) -> AppliedWorkflow:
        return cls(Workflow._from_proto(message.workflow), message.changed)


# --- runs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeError:
    """Why a node failed."""

    code: str
    """A machine-readable code, such as `HTTP_STATUS` or `TEMPLATE_ERROR`."""
    message: str
    """A human-readable explanation, with secrets redacted."""


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one node in one run."""

    node_id: str
    status: NodeStatus
    attempts: int
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    output: Any
    variables: dict[str, Any]
    """The variables the node wrote."""
    error: NodeError | None
    source_run_id: str
    """The run that produced this result, when it is reused from an earlier run of the lineage."""
    finish_sequence: int
    definition_hash: str
    raw: run_pb2.NodeResult = field(repr=False, compare=False)

    @property
    def duration(self) -> dt.timedelta | None:
        """How long the node took, from its first attempt to its terminal status."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    @classmethod
    def _from_proto(cls, message: run_pb2.NodeResult) -> NodeResult:
        error = None
        if message.HasField("error"):
            error = NodeError(message.error.code, message.error.message)
        return cls(
            node_id=message.node_id,
            status=_enum(NodeStatus, message.status),
            attempts=message.attempts,
            start_time=timestamp_to_datetime(message, "start_time"),
            end_time=timestamp_to_datetime(message, "end_time"),
            output=value_to_python(message.output) if message.HasField("output") else None,
            variables=struct_to_dict(message.variables),
            error=error,
            source_run_id=message.source_run_id,
            finish_sequence=message.finish_sequence,
            definition_hash=message.definition_hash,
            raw=message,
        )


@dataclass(frozen=True)
class Run:
    """One execution of a workflow; `node_results` is filled by `Client.get_run` only."""

    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    create_time: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    inputs: dict[str, Any]
    environment_name: str
    environment: dict[str, str]
    failed_node_ids: tuple[str, ...]
    """The failed nodes, in topological order with ties broken by node id."""
    variables: dict[str, Any]
    error_summary: str
    request_id: str
    resume_from_run_id: str
    """For resumes: the run this run continues."""
    resume_from_node_ids: tuple[str, ...]
    resume_mode: ResumeMode
    root_run_id: str
    lineage_depth: int
    node_results: tuple[NodeResult, ...]
    last_sequence: int
    raw: run_pb2.Run = field(repr=False, compare=False)

    @property
    def is_resume(self) -> bool:
        return bool(self.resume_from_run_id)

    @property
    def duration(self) -> dt.timedelta | None:
        """How long the run took, once it finished."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def node_result(self, node_id: str) -> NodeResult | None:
        """The result of one node, or None."""
        return next((result for result in self.node_results if result.node_id == node_id), None)

    @classmethod
    def _from_proto(cls, message: run_pb2.Run) -> Run:
        return cls(
            id=message.id,
            workflow_id=message.workflow_id,
            workflow_version=message.workflow_version,
            status=_enum(RunStatus, message.status),
            create_time=timestamp_to_datetime(message, "create_time"),
            start_time=timestamp_to_datetime(message, "start_time"),
            end_time=timestamp_to_datetime(message, "end_time"),
            inputs=struct_to_dict(message.inputs),
            environment_name=message.environment.name,
            environment=dict(message.environment.values),
            failed_node_ids=tuple(message.failed_node_ids),
            variables=struct_to_dict(message.variables),
            error_summary=message.error_summary,
            request_id=message.request_id,
            resume_from_run_id=message.resume_from_run_id,
            resume_from_node_ids=tuple(message.resume_from_node_ids),
            resume_mode=_enum(ResumeMode, message.resume_mode),
            root_run_id=message.root_run_id,
            lineage_depth=message.lineage_depth,
            node_results=tuple(NodeResult._from_proto(result) for result in message.node_results),
            last_sequence=message.last_sequence,
            raw=message,
        )


@dataclass(frozen=True)
class Event:
    """One entry of a run's gapless event log."""

    run_id: str
    sequence: int
    """The event's position in the run's log: 1, 2, 3 … without gaps."""
    time: dt.datetime | None
    kind: EventKind
    node_id: str
    """For NODE_STATUS events: the node."""
    node_status: NodeStatus
    attempt: int
    """For NODE_STATUS events: the attempt, counted from 1."""
    message: str
    run_status: RunStatus
    """For RUN_STARTED and RUN_FINISHED events: the run's status."""
    raw: run_pb2.Event = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: run_pb2.Event) -> Event:
        return cls(
            run_id=message.run_id,
            sequence=message.sequence,
            time=timestamp_to_datetime(message, "time"),
            kind=_enum(EventKind, message.kind),
            node_id=message.node_id,
            node_status=_enum(NodeStatus, message.node_status),
            attempt=message.attempt,
            message=message.message,
            run_status=_enum(RunStatus, message.run_status),
            raw=message,
        )


@dataclass(frozen=True)
class RunAccepted:
    """The first update of a run: the run as stored when it started."""

    run: Run
    restored_node_ids: tuple[str, ...]
    """For resumes: the nodes whose results were reused from the lineage."""
    existing: bool
    """True when the request id matched an existing run, which the handle now follows."""
    raw: rpb.RunAccepted = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: rpb.RunAccepted) -> RunAccepted:
        return cls(Run._from_proto(message.run), tuple(message.restored_node_ids), message.existing, message)


@dataclass(frozen=True)
class RunFinished:
    """The last update of a run: the run as stored at its end (without node results)."""

    run: Run
    sequence: int
    """The sequence of the RUN_FINISHED event in the run's log."""
    raw: rpb.RunFinished = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: rpb.RunFinished) -> RunFinished:
        return cls(Run._from_proto(message.run), message.sequence, message)


RunUpdate = RunAccepted | Event | RunFinished
"""What iterating a run handle yields: `RunAccepted` first, node `Event`s, `RunFinished` last."""


# --- resumes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedNode:
    """One failed node of a run."""

    node_id: str
    label: str
    type: str
    error_message: str


@dataclass(frozen=True)
class LatestFailed:
    """A workflow's latest unresolved failed run, the one a resume picks by default."""

    run: Run
    failed_nodes: tuple[FailedNode, ...]
    """Its failed nodes, in topological order with ties broken by node id."""
    raw: hpb.GetLatestFailedResponse = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: hpb.GetLatestFailedResponse) -> LatestFailed:
        nodes = tuple(
            FailedNode(node.node_id, node.label, node.type, node.error_message)
            for node in message.failed_nodes
        )
        return cls(Run._from_proto(message.run), nodes, message)


@dataclass(frozen=True)
class PlannedNode:
    """The planned fate of one node, and why."""

    node_id: str
    fate: NodeFate
    source_run_id: str
    """For RESTORED (and carried failures): the run whose result would be reused."""
    reason: str


@dataclass(frozen=True)
class PlanProblem:
    """A reason a real resume would be rejected, such as `MISSING_SECRET`."""

    reason: str
    message: str


@dataclass(frozen=True)
class ResumePlan:
    """What a resume would do, without running it."""

    source_run_id: str
    start_node_ids: tuple[str, ...]
    mode: ResumeMode
    nodes: tuple[PlannedNode, ...]
    """Every node with its fate, in topological order."""
    problems: tuple[PlanProblem, ...]
    """Why a real resume would be rejected; empty when it would be accepted."""
    plan_token: str
    """Pass to `Client.resume(plan_token=…)` to run exactly this plan."""
    workflow_version: int
    raw: rpb.PlanResumeResponse = field(repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        """True when a real resume with the same request would be accepted."""
        return not self.problems

    def nodes_with(self, fate: NodeFate) -> tuple[str, ...]:
        """The ids of the nodes with this fate, in topological order."""
        return tuple(node.node_id for node in self.nodes if node.fate == fate)

    @classmethod
    def _from_proto(cls, message: rpb.PlanResumeResponse) -> ResumePlan:
        return cls(
            source_run_id=message.source_run_id,
            start_node_ids=tuple(message.start_node_ids),
            mode=_enum(ResumeMode, message.mode),
            nodes=tuple(
                PlannedNode(n.node_id, _enum(NodeFate, n.fate), n.source_run_id, n.reason)
                for n in message.nodes
            ),
            problems=tuple(PlanProblem(p.reason, p.message) for p in message.problems),
            plan_token=message.plan_token,
            workflow_version=message.workflow_version,
            raw=message,
        )


@dataclass(frozen=True)
class LineageContext:
    """A run's lineage and the effective result of every node."""

    lineage: tuple[Run, ...]
    """The runs from this run back to its root, root last."""
    node_results: tuple[NodeResult, ...]
    """Each node's effective result; `source_run_id` names the run that produced it."""
    variables: dict[str, Any]
    """The variables rebuilt from the root's inputs and the restored nodes' writes."""
    raw: hpb.GetLineageContextResponse = field(repr=False, compare=False)

    @classmethod
    def _from_proto(cls, message: hpb.GetLineageContextResponse) -> LineageContext:
        return cls(
            lineage=tuple(Run._from_proto(run) for run in message.lineage),
            node_results=tuple(NodeResult._from_proto(result) for result in message.node_results),
            variables=struct_to_dict(message.variables),
            raw=message,
        )
