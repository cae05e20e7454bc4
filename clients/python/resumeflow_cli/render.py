"""How the CLI shows the client's results: rich tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from resumeflow_client import (
    LatestFailed,
    NodeFate,
    NodeResult,
    NodeStatus,
    ResumePlan,
    Run,
    Workflow,
)

# Without a terminal (pipes, CI logs) tables get this width rather than rich's 80 columns,
# so run ids and messages are not folded.
_PIPE_WIDTH = 200

STATUS_STYLES: Mapping[str, str] = {
    "PENDING": "dim",
    "QUEUED": "dim",
    "RUNNING": "bold cyan",
    "SUCCEEDED": "green",
    "RESTORED": "blue",
    "SKIPPED": "dim",
    "FAILED": "bold red",
    "BLOCKED": "yellow",
    "CANCELLED": "magenta",
}
FATE_STYLES: Mapping[NodeFate, str] = {
    NodeFate.RERUN: "bold cyan",
    NodeFate.RESTORED: "blue",
    NodeFate.CARRIED_FAILURE: "bold red",
    NodeFate.BLOCKED: "yellow",
    NodeFate.SKIPPED: "dim",
}


def make_console(*, stderr: bool = False) -> Console:
    """A console on the current stdout/stderr (tests swap them), wide when not a terminal."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=_PIPE_WIDTH)
    return console


def styled(status: enum.Enum) -> Text:
    return Text(status.name, style=STATUS_STYLES.get(status.name, ""))


def format_duration(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = delta.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


def format_time(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


# --- JSON -----------------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """The client's dataclasses as JSON values: enums by name, times in ISO 8601, no raw messages."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_jsonable(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if field.name != "raw"
        }
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return value


def print_json(value: Any) -> None:
    """One JSON document on one line of stdout (not through rich, which would wrap it)."""
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False) + "\n")
    sys.stdout.flush()


# --- tables ---------------------------------------------------------------------------------------


def runs_table(runs: Iterable[Run]) -> Table:
    table = Table(title="Runs, newest first", title_justify="left")
    for column in (
        "Run",
        "Workflow",
        "Version",
        "Status",
        "Created",
        "Duration",
        "Resumed from",
        "Failed nodes",
    ):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(
            run.id,
            run.workflow_id,
            str(run.workflow_version),
            styled(run.status),
            format_time(run.create_time),
            format_duration(run.duration),
            run.resume_from_run_id or "-",
            ", ".join(run.failed_node_ids) or "-",
        )
    return table


def run_summary(run: Run) -> Table:
    """The run's own fields, as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str | Text]] = [
        ("Run", run.id),
        ("Workflow", f"{run.workflow_id} (version {run.workflow_version})"),
        ("Status", styled(run.status)),
        ("Created", format_time(run.create_time)),
        ("Duration", format_duration(run.duration)),
    ]
    if run.environment_name or run.environment:
        values = ", ".join(f"{key}={value}" for key, value in sorted(run.environment.items()))
        rows.append(("Environment", " ".join(part for part in (run.environment_name, values) if part)))
    if run.resume_from_run_id:
        rows.append(
            (
                "Resumed from",
                f"{run.resume_from_run_id} ({run.resume_mode.name}, "
                f"from {', '.join(run.resume_from_node_ids)})",
            )
        )
        rows.append(("Lineage", f"root {run.root_run_id}, depth {run.lineage_depth}"))
    if run.failed_node_ids:
        rows.append(("Failed nodes", ", ".join(run.failed_node_ids)))
    if run.error_summary:
        rows.append(("Error", run.error_summary))
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def node_results_table(run: Run, workflow: Workflow | None) -> Table:
    table = Table(title="Nodes", title_justify="left")
    for column in ("Node", "Label", "Type", "Status", "Attempts", "Duration", "Provenance", "Error"):
        table.add_column(column, overflow="fold")
    for result in run.node_results:
        node = workflow.node(result.node_id) if workflow else None
        table.add_row(
            result.node_id,
            node.label if node else "",
            node.type if node else "",
            styled(result.status),
            str(result.attempts),
            format_duration(result.duration),
            provenance(run, result),
            f"{result.error.code}: {result.error.message}" if result.error else "",
        )
    return table


def provenance(run: Run, result: NodeResult) -> str:
    """Which run produced a node's result."""
    if result.source_run_id and result.source_run_id != run.id:
        verb = "restored from" if result.status == NodeStatus.RESTORED else "carried from"
        return f"{verb} {result.source_run_id}"
    if result.status in (NodeStatus.PENDING, NodeStatus.SKIPPED, NodeStatus.BLOCKED, NodeStatus.CANCELLED):
        return "-"
    return "this run"


def failed_table(latest: LatestFailed) -> Table:
    table = Table(title=f"Failed nodes of run {latest.run.id}", title_justify="left")
    for column in ("Node", "Label", "Type", "Error"):
        table.add_column(column, overflow="fold")
    for node in latest.failed_nodes:
        table.add_row(node.node_id, node.label, node.type, node.error_message)
    return table


def plan_table(plan: ResumePlan) -> Table:
    table = Table(
        title=f"Resume of run {plan.source_run_id} "
        f"({plan.mode.name}, workflow version {plan.workflow_version})",
        title_justify="left",
    )
    for column in ("Node", "Fate", "From run", "Reason"):
        table.add_column(column, overflow="fold")
    for node in plan.nodes:
        fate = Text(node.fate.name.replace("_", " ").lower(), style=FATE_STYLES.get(node.fate, ""))
        table.add_row(node.node_id, fate, node.source_run_id or "-", node.reason)
    return table
