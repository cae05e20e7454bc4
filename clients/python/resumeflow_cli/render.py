"""How the CLI shows the client's results: rich tables for people, JSON for scripts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from resumeflow_cli.session import short_id
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


def format_time(moment: dt.datetime | None, *, short: bool = False) -> str:
    """Local time; `short` (for tables) leaves out the year and the seconds."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S")


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
# Tables must read well at 80 columns: ids are shortened (the full ones are in --json and `show`),
# short cells (statuses, times, counts) never wrap, and only free text (labels, errors, reasons)
# wraps, at word boundaries. A column is never narrower than its header's longest word.

_TEXT = "text"  # free text: wraps at words, takes what width is left
_ID = "id"  # identifiers: wrap only when even their longest word (up to _ID_WIDTH) cannot fit
_CELL = "cell"  # short values (statuses, times, counts): never wrap
_OPTIONAL = "optional"  # free text worth showing only where its words fit (node labels)
_ID_WIDTH = 24
_GAP = 2  # spaces between columns: the box's blank divider and one of padding
_FULL_ID = re.compile(r"\b[0-9a-f]{32}\b")


@dataclass
class FittedTable:
    """A table laid out for the width it is printed at: columns get their natural width when the
    table fits, else free text and then identifiers give way, each down to its longest word at
    first; an optional column is shown only in the width the others leave. (rich's own
    shrinking can drop characters of folded cells when short no-wrap columns are involved, so the
    widths are decided here.)"""

    title: str
    columns: Sequence[tuple[str, str]]
    rows: Sequence[Sequence[str | Text]]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = Table(
            title=self.title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1, 0, 0),
        )
        shown, widths = self._layout(options.max_width)
        for i in shown:
            header, kind = self.columns[i]
            table.add_column(header, no_wrap=kind == _CELL, overflow="fold", width=widths[i])
        for row in self.rows:
            table.add_row(*(row[i] for i in shown))
        yield table

    def _layout(self, available: int) -> tuple[list[int], dict[int, int]]:
        """The columns shown and their widths: the others first, then each optional column that
        the width left over holds with its longest word unbroken."""
        shown = [i for i, (_, kind) in enumerate(self.columns) if kind != _OPTIONAL]
        widths = self._widths(shown, available)
        for i, (header, kind) in enumerate(self.columns):
            spare = available - sum(widths.values()) - _GAP * len(shown)
            if kind == _OPTIONAL and spare >= self._longest(i, header, str.split):
                widths[i] = min(spare, self._longest(i, header, str.splitlines))
                shown = sorted([*shown, i])
        return shown, widths

    def _widths(self, shown: list[int], available: int) -> dict[int, int]:
        """Each shown column's width."""
        headers = {i: self.columns[i][0] for i in shown}
        widths = {i: self._longest(i, header, str.splitlines) for i, header in headers.items()}
        by_word = {i: min(self._longest(i, header, str.split), _ID_WIDTH) for i, header in headers.items()}
        by_header = {i: max(len(word) for word in header.split()) for i, header in headers.items()}
        room = available - _GAP * (len(shown) - 1)
        # Free text gives way first (to its longest word), then identifiers (to theirs), then free
        # text folds words (down to its header's longest), then identifiers; short cells never do.
        # The widest column of a kind gives way first, down to the next widest, and so on.
        for kind, floors in ((_TEXT, by_word), (_ID, by_word), (_TEXT, by_header), (_ID, by_header)):
            while (excess := sum(widths.values()) - room) > 0:
                shrinkable = sorted(
                    (i for i in shown if self.columns[i][1] == kind and widths[i] > floors[i]),
                    key=lambda i: widths[i],
                    reverse=True,
                )
                if not shrinkable:
                    break
                widest = shrinkable[0]
                next_widest = widths[shrinkable[1]] if len(shrinkable) > 1 else 0
                widths[widest] = max(floors[widest], next_widest, widths[widest] - excess)
                if widths[widest] == next_widest:  # level with the next: take one off to move on
                    widths[widest] = max(floors[widest], widths[widest] - 1)
        return widths

    def _longest(self, index: int, header: str, parts: Callable[[str], list[str]]) -> int:
        cells = [header, *(_plain(row[index]) for row in self.rows)]
        return max((len(part) for cell in cells for part in parts(cell)), default=1) or 1


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def shorten_ids(text: str) -> str:
    """Full run ids inside a message, shortened as tables show them."""
    return _FULL_ID.sub(lambda match: short_id(match.group()), text)


def runs_table(runs: Iterable[Run]) -> FittedTable:
    columns = [
        ("Run", _CELL),
        ("Workflow", _ID),
        ("Status", _CELL),
        ("Created", _CELL),
        ("Took", _CELL),
        ("From run", _CELL),
        ("Failed nodes", _TEXT),
    ]
    rows = [
        (
            short_id(run.id),
            f"{run.workflow_id} v{run.workflow_version}",
            styled(run.status),
            format_time(run.create_time, short=True),
            format_duration(run.duration),
            _short_or_dash(run.resume_from_run_id),
            ", ".join(run.failed_node_ids) or "-",
        )
        for run in runs
    ]
    return FittedTable("Runs, newest first", columns, rows)


def run_summary(run: Run) -> Table:
    """The run's own fields, as a two-column grid (full ids: this is where to copy them from)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
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
        rows.append(("Resumed from", run.resume_from_run_id))
        rows.append(("Resume", f"{run.resume_mode.name}, {describe_start_nodes(run.resume_from_node_ids)}"))
        rows.append(("Lineage", f"root {run.root_run_id}, depth {run.lineage_depth}"))
    if run.failed_node_ids:
        rows.append(("Failed nodes", ", ".join(run.failed_node_ids)))
    if run.error_summary:
        rows.append(("Error", run.error_summary))
    for name, value in rows:
        grid.add_row(name, value)
    return grid


def describe_start_nodes(node_ids: Iterable[str]) -> str:
    """Where a resume starts; a resume of a cancelled run names none: it re-runs what did not finish."""
    node_ids = list(node_ids)
    return f"from {', '.join(node_ids)}" if node_ids else "re-running the nodes that did not finish"


def node_results_table(run: Run, workflow: Workflow | None) -> FittedTable:
    """Each node's status and provenance; their errors follow the table (`node_errors`), where
    they have the full width."""
    columns = [
        ("Node", _ID),
        ("Label", _OPTIONAL),
        ("Type", _CELL),
        ("Status", _CELL),
        ("Tries", _CELL),
        ("Took", _CELL),
        ("Provenance", _TEXT),
    ]
    rows = []
    for result in run.node_results:
        node = workflow.node(result.node_id) if workflow else None
        rows.append(
            (
                result.node_id,
                node.label if node else "",
                node.type if node else "",
                styled(result.status),
                str(result.attempts),
                format_duration(result.duration),
                provenance(run, result),
            )
        )
    return FittedTable("Nodes", columns, rows)


def node_errors(run: Run) -> list[str]:
    """`node: CODE: message` for each node with an error, in the table's order."""
    return [
        f"{result.node_id}: {result.error.code}: {shorten_ids(result.error.message)}"
        for result in run.node_results
        if result.error is not None
    ]


def provenance(run: Run, result: NodeResult) -> str:
    """Which run produced a node's result."""
    if result.source_run_id and result.source_run_id != run.id:
        verb = "from" if result.status == NodeStatus.RESTORED else "carried from"
        return f"{verb} {short_id(result.source_run_id)}"
    if result.status in (NodeStatus.PENDING, NodeStatus.SKIPPED, NodeStatus.BLOCKED, NodeStatus.CANCELLED):
        return "-"
    return "this run"


def failed_table(latest: LatestFailed) -> FittedTable:
    columns = [("Node", _ID), ("Label", _TEXT), ("Type", _CELL), ("Error", _TEXT)]
    rows = [(n.node_id, n.label, n.type, shorten_ids(n.error_message)) for n in latest.failed_nodes]
    return FittedTable(f"Failed nodes of run {short_id(latest.run.id)}", columns, rows)


def plan_table(plan: ResumePlan) -> FittedTable:
    columns = [("Node", _ID), ("Fate", _CELL), ("From run", _CELL), ("Reason", _TEXT)]
    rows = [
        (
            node.node_id,
            Text(node.fate.name.replace("_", " ").lower(), style=FATE_STYLES.get(node.fate, "")),
            _short_or_dash(node.source_run_id),
            shorten_ids(node.reason),
        )
        for node in plan.nodes
    ]
    title = (
        f"Resume of run {short_id(plan.source_run_id)} ({plan.mode.name}, "
        f"workflow version {plan.workflow_version})"
    )
    return FittedTable(title, columns, rows)


def _short_or_dash(run_id: str) -> str:
    return short_id(run_id) if run_id else "-"
