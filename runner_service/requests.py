"""What a caller asks the runner for, and what the runner answers, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resumeflow_core.records import Event, Run
from resumeflow_core.status import ResumeMode


@dataclass(frozen=True)
class ResumeRequest:
    """Continue a failed run from one or all of its failed nodes (SPEC §5)."""

    source_run_id: str = ""
    mode: ResumeMode = ResumeMode.SINGLE
    start_node_ids: tuple[str, ...] = ()
    rerun_changed_nodes: bool = False
    pin_source_version: bool = False
    plan_token: str = ""


@dataclass(frozen=True)
class RunRequest:
    """Run a workflow, or resume one of its failed runs."""

    workflow_id: str
    inputs: dict[str, Any] = field(default_factory=dict)
    environment_name: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    max_concurrency: int = 0
    """0 means the runner's default."""
    resume: ResumeRequest | None = None


@dataclass(frozen=True)
class Accepted:
    """The first thing a run's stream says: the run as stored when it started."""

    run: Run
    restored_node_ids: tuple[str, ...] = ()
    existing: bool = False
    """True when the request id matched a run that already existed."""


@dataclass(frozen=True)
class Finished:
    """The last thing a run's stream says: the run as stored at its end."""

    run: Run
    sequence: int


StreamItem = list[Event] | Finished
"""What a run's stream carries after Accepted: node events that happened together, then Finished."""
