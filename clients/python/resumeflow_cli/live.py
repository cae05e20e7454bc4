"""Following a run on screen: a live node table on a terminal, one plain line per transition otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from resumeflow_cli.render import describe_start_nodes, format_duration, styled
from resumeflow_client import Event, EventKind, NodeStatus, Run, RunAccepted, Workflow

_REFRESHES_PER_SECOND = 10


@dataclass
class _Row:
    node_id: str
    label: str
    status: NodeStatus
    attempt: int = 0
    message: str = ""


class RunDisplay:
    """Shows each node's status while a run streams.

    On a terminal a rich `Live` table is redrawn on every transition; when stdout is not a terminal
    (pipes, CI logs) each transition prints one line instead, so nothing is redrawn or lost.
    """

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self._console = console
        self._live_mode = console.is_terminal if live is None else live
        self._rows: dict[str, _Row] = {}
        self._live: Live | None = None
        self._title = ""

    def __enter__(self) -> RunDisplay:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(
        self, run: Run, workflow: Workflow | None, *, statuses: Mapping[str, NodeStatus] | None = None
    ) -> None:
        """Lay out every node of the run, with the statuses it starts from (restored, carried)."""
        node_ids = [result.node_id for result in run.node_results] or [
            node.id for node in (workflow.nodes if workflow else ())
        ]
        for node_id in node_ids:
            node = workflow.node(node_id) if workflow else None
            self._rows[node_id] = _Row(
                node_id, node.label if node else "", (statuses or {}).get(node_id, NodeStatus.PENDING)
            )
        self._title = f"Run {run.id} · {run.workflow_id} v{run.workflow_version}"
        if self._live_mode:
            self._live = Live(
                self._table(),
                console=self._console,
                refresh_per_second=_REFRESHES_PER_SECOND,
                transient=False,
            )
            self._live.start()
        else:
            for row in self._rows.values():
                if row.status != NodeStatus.PENDING:
                    self._line(row)

    def event(self, event: Event) -> None:
        """Record a NODE_STATUS event (other kinds are ignored)."""
        if event.kind != EventKind.NODE_STATUS:
            return
        row = self._rows.setdefault(event.node_id, _Row(event.node_id, "", event.node_status))
        row.status, row.attempt, row.message = event.node_status, event.attempt, event.message
        if self._live is not None:
            self._live.update(self._table())
        else:
            self._line(row)

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
            self._live = None

    def _line(self, row: _Row) -> None:
        width = max((len(node_id) for node_id in self._rows), default=0)
        text = Text(f"  {row.node_id:<{width}}  ")
        text.append_text(styled(row.status))
        if row.attempt > 1 or (row.attempt and row.status == NodeStatus.RUNNING):
            text.append(f"  attempt {row.attempt}")
        if row.message:
            text.append(f"  {row.message}")
        self._console.print(text, soft_wrap=True)

    def _table(self) -> Table:
        table = Table(title=self._title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("Node", overflow="fold", ratio=1, min_width=4)
        table.add_column("Label", overflow="fold", ratio=1, min_width=5)
        table.add_column("Status", no_wrap=True, min_width=6)
        table.add_column("Try", no_wrap=True)
        table.add_column("Message", overflow="fold", ratio=2, min_width=7)
        for row in self._rows.values():
            table.add_row(row.node_id, row.label, styled(row.status), str(row.attempt or ""), row.message)
        return table


def describe_accepted(accepted: RunAccepted) -> str:
    """One line saying which run started, and for a resume what it continues and reuses."""
    run = accepted.run
    line = f"Run {run.id} of {run.workflow_id} (version {run.workflow_version})"
    if accepted.existing:
        line += ": an existing run with this request id; following it"
    elif run.resume_from_run_id:
        line += (
            f" resumes run {run.resume_from_run_id} ({run.resume_mode.name}), "
            f"{describe_start_nodes(run.resume_from_node_ids)}"
        )
        if accepted.restored_node_ids:
            line += f"; restored: {', '.join(accepted.restored_node_ids)}"
    else:
        line += " started"
    return line


def describe_outcome(run: Run) -> list[str]:
    """What to say when a run ends, and for a failure how to resume it."""
    lines = [f"Run {run.id} {run.status.name} in {format_duration(run.duration)}"]
    if run.error_summary:
        lines.append(f"  {run.error_summary}")
    if run.failed_node_ids:
        lines.append(f"  failed nodes: {', '.join(run.failed_node_ids)}")
        resume = f"resumeflow resume {run.workflow_id}"
        if len(run.failed_node_ids) > 1:
            resume += " --all-failed"
        lines.append(f"  resume with: {resume}   (preview: resumeflow plan {run.workflow_id})")
    return lines
