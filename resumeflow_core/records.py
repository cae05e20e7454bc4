"""Run records shared by the runner and the history store: runs, node results and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from resumeflow_core.limits import DEFAULT_LEASE_SECONDS
from resumeflow_core.status import EventKind, NodeStatus, ResumeMode, RunStatus


@dataclass(frozen=True)
class NodeError:
    """Why a node failed: a machine-readable code and a redacted message."""

    code: str
    message: str


@dataclass
class NodeResult:
    """The outcome of one node in one run."""

    node_id: str
    status: NodeStatus = NodeStatus.PENDING
    attempts: int = 0
    start_time: datetime | None = None
    end_time: datetime | None = None
    output: Any = None
    variables: dict[str, Any] = field(default_factory=dict)
    """The variables the node wrote."""
    error: NodeError | None = None
    source_run_id: str = ""
    """For RESTORED results: the run that produced them."""
    finish_sequence: int = 0
    """Sequence of the event that recorded the terminal status, in the producing run."""
    definition_hash: str = ""
    """`Node.definition_hash()` of the definition that produced the result; resumes compare it."""


@dataclass
class Event:
    """One entry of a run's gapless event log."""

    run_id: str
    sequence: int
    time: datetime
    kind: EventKind
    node_id: str = ""
    node_status: NodeStatus = NodeStatus.UNSPECIFIED
    attempt: int = 0
    message: str = ""
    run_status: RunStatus = RunStatus.UNSPECIFIED


@dataclass
class Run:
    """One execution of a workflow, with the metadata a resume needs."""

    id: str
    workflow_id: str
    workflow_version: int = 0
    status: RunStatus = RunStatus.QUEUED
    create_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    environment_name: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    failed_node_ids: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    error_summary: str = ""
    request_id: str = ""
    resume_from_run_id: str = ""
    resume_from_node_ids: list[str] = field(default_factory=list)
    resume_mode: ResumeMode = ResumeMode.UNSPECIFIED
    root_run_id: str = ""
    lineage_depth: int = 0
    last_sequence: int = 0
    node_results: list[NodeResult] = field(default_factory=list)


@dataclass(frozen=True)
class RunStart:
    """A new run as its runner asks the history to create it (CreateRun), in every layer."""

    run: Run
    """The run; its status, times and node results are the store's to set."""
    node_ids: list[str]
    """Every node of the workflow version, in topological order."""
    runner_id: str
    """The runner executing the run; it holds the run's lease."""
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    """How long the lease lasts without a heartbeat."""
    preset_results: list[NodeResult] = field(default_factory=list)
    """Results stored as given instead of PENDING (RESTORED ones, carried failures)."""
    copied_node_ids: list[str] = field(default_factory=list)
    """For a resume: nodes whose results the store copies from the source run."""


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as its runner records it (FinishRun), in every layer."""

    status: RunStatus
    """SUCCEEDED, FAILED or CANCELLED."""
    event: Event
    """The RUN_FINISHED event, next in sequence."""
    failed_node_ids: list[str] = field(default_factory=list)
    """The failed nodes, in topological order."""
    variables: dict[str, Any] = field(default_factory=dict)
    """The run's final variables."""
    error_summary: str = ""
    """Why the run did not succeed ("" on success)."""

    def recorded_as(self, run: Run) -> bool:
        """Whether `run`, as stored, ended with this end (and not, say, with lease expiry)."""
        return (
            run.status == self.status
            and run.last_sequence == self.event.sequence
            and run.error_summary == self.error_summary
        )
