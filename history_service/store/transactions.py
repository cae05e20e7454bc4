"""The bodies of the store's transactions, each run inside a session the caller began."""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, cast

from sqlalchemy import (
    ARRAY,
    Integer,
    Interval,
    String,
    bindparam,
    case,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from history_service.store import checks, rows
from history_service.store.bulk import BulkStatement
from history_service.store.models import (
    Base,
    EventRow,
    NodeResultRow,
    RunRow,
    WorkflowRow,
    WorkflowVersionRow,
)
from resumeflow_core.errors import RunNotFoundError
from resumeflow_core.reasons import RUNNER_LOST
from resumeflow_core.records import Event, NodeResult, Run, RunStart
from resumeflow_core.status import EventKind, NodeStatus, RunStatus
from resumeflow_core.workflow import Workflow

_UNFINISHED_NODES = (int(NodeStatus.PENDING), int(NodeStatus.RUNNING))

# Core tables for bulk inserts: one executemany with explicit NULLs, where ORM bulk
# inserts would split a batch by which columns happen to be None.
_EVENTS = Base.metadata.tables[EventRow.__tablename__]
_RUNS = Base.metadata.tables[RunRow.__tablename__]
_NODE_RESULTS = Base.metadata.tables[NodeResultRow.__tablename__]


def now() -> datetime:
    return datetime.now(UTC)


# --- the database's clock ----------------------------------------------------------------
# Leases are set and expired by the database's clock, never a replica's: replicas whose clocks
# disagree (or a replica whose clock jumps) cannot expire a lease early.

_SQLITE_TEXT = "%Y-%m-%d %H:%M:%f"
"""SQLite's clock as text: "YYYY-MM-DD HH:MM:SS.SSS", millisecond precision."""


async def database_now(session: AsyncSession) -> datetime:
    """The database's current time, timezone-aware in UTC."""
    if _is_sqlite(session):
        text = await session.scalar(select(func.strftime(_SQLITE_TEXT, "now")))
        return datetime.fromisoformat(str(text)).replace(tzinfo=UTC)
    value = await session.scalar(select(func.now()))
    assert isinstance(value, datetime)
    return value.astimezone(UTC)


def lease_expiry(session: AsyncSession, lease_seconds: float) -> ColumnElement[Any]:
    """SQL for the database's time `lease_seconds` from now, to store as `lease_expire_time`."""
    if _is_sqlite(session):
        # The stored text must be that of UTCDateTime, "….ffffff", so it compares and parses alike.
        return func.strftime(_SQLITE_TEXT + "000", "now", f"{lease_seconds:+.3f} seconds")
    return func.now() + literal(timedelta(seconds=lease_seconds), Interval())


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# --- workflows -------------------------------------------------------------------------


async def put_workflow(session: AsyncSession, workflow: Workflow) -> tuple[Workflow, bool]:
    """Add `workflow` as the next version of its id, unless its definition is unchanged."""
    time = now()
    row = await session.get(WorkflowRow, workflow.id, with_for_update=True)
    if row is None:
        row = WorkflowRow(
            id=workflow.id,
            name=workflow.name,
            current_version=1,
            create_time=time,
            update_time=time,
        )
        session.add(row)
    else:
        latest = await session.get(WorkflowVersionRow, (row.id, row.current_version))
        assert latest is not None, "a workflow row always has its current version"
        current = rows.workflow_from_rows(row, latest)
        if current.same_definition(workflow):
            return current, False
        row.current_version += 1
        row.name = workflow.name
        row.update_time = time
    version = rows.workflow_version_row(workflow, row.current_version, time)
    session.add(version)
    await session.flush()
    return rows.workflow_from_rows(row, version), True


# --- runs: creation --------------------------------------------------------------------


async def insert_run(
    session: AsyncSession, start: RunStart, presets: dict[str, NodeResult]
) -> tuple[Run, bool]:
    """Insert a new RUNNING run with its node results and RUN_STARTED event.

    Returns the run already created with the same request id, if any, instead.
    """
    run, node_ids, copied_node_ids = start.run, start.node_ids, start.copied_node_ids
    if run.request_id:
        existing = await run_id_by_request(session, run.workflow_id, run.request_id)
        if existing is not None:
            return await load_run(session, existing, with_results=True), True
    time = now()
    run_id = run.id or uuid.uuid4().hex
    lineage, source_version = await _lineage(session, run)
    results = [
        NodeResult(node_id) if (preset := presets.get(node_id)) is None else dataclasses.replace(preset)
        for node_id in node_ids
    ]
    # The same workflow version orders its nodes the same way: copies keep the source's positions.
    copy_rows = bool(copied_node_ids) and source_version == run.workflow_version
    copied = set(copied_node_ids) if copy_rows else set()
    run = dataclasses.replace(
        run,
        id=run_id,
        status=RunStatus.RUNNING,
        create_time=time,
        start_time=time,
        end_time=None,
        root_run_id=lineage[-1] if lineage else run_id,
        lineage_depth=len(lineage),
        last_sequence=1,
        node_results=results,
    )
    row = rows.run_to_row(run, lineage=lineage, runner_id=start.runner_id, lease_seconds=start.lease_seconds)
    values = {column.name: getattr(row, column.name) for column in _RUNS.columns}
    values["lease_expire_time"] = lease_expiry(session, start.lease_seconds)
    # The run alone first: a duplicate request or active resume fails here, before a thousand
    # node rows are sent. A Core insert: the ORM's unit of work costs more than the statement.
    await session.execute(insert(_RUNS).values(values))
    pending: list[tuple[str, int]] = []
    given = []
    for position, result in enumerate(results):
        if result.node_id in copied:
            continue
        if result.node_id in presets:
            given.append(rows.node_result_values(result, run_id=run_id, position=position))
        else:
            pending.append((result.node_id, position))
    await _insert_pending(session, run_id, pending)
    await _INSERT_RESULTS.execute(session, given)
    if copy_rows:
        await _insert_copies(session, run_id, run.resume_from_run_id, copied_node_ids)
    elif copied_node_ids:
        await _copy_results(session, run_id, run.resume_from_run_id, copied_node_ids)
    started = Event(
        run_id=run_id,
        sequence=1,
        time=time,
        kind=EventKind.RUN_STARTED,
        run_status=RunStatus.RUNNING,
    )
    await insert_events(session, run_id, [started])
    return run, False


async def _insert_pending(session: AsyncSession, run_id: str, pending: Sequence[tuple[str, int]]) -> None:
    """Insert a PENDING row for each (node id, position), in one INSERT … SELECT over the ids.

    The database makes the rows: a run's first node waits for one statement whatever the
    workflow's size, not for a thousand rows converted and bound one by one.
    """
    if not pending:
        return
    sqlite = _is_sqlite(session)
    params: dict[str, Any] = {"run_id": run_id}
    if sqlite:
        params["pending"] = json.dumps(pending)
    else:
        params["ids"], params["positions"] = (list(column) for column in zip(*pending, strict=True))
    await session.execute(_pending_statement(sqlite), params)


@functools.cache
def _pending_statement(sqlite: bool) -> Any:
    """The INSERT … SELECT of `_insert_pending`, built once per dialect: the ids come as a JSON
    array of [node id, position] (SQLite) or two arrays (PostgreSQL); every other column takes
    the value a default NodeResult is stored with, through the column's own type."""
    if sqlite:
        items = func.json_each(bindparam("pending", type_=String())).table_valued("value")
        node_id: ColumnElement[Any] = func.json_extract(items.c.value, "$[0]")
        position: ColumnElement[Any] = func.json_extract(items.c.value, "$[1]")
    else:
        items = (
            func.unnest(
                bindparam("ids", type_=ARRAY(String())), bindparam("positions", type_=ARRAY(Integer()))
            )
            .table_valued("node_id", "position")
            .render_derived()
        )
        node_id, position = items.c.node_id, items.c.position
    defaults = rows.node_result_values(NodeResult(""), run_id="")
    columns: list[ColumnElement[Any]] = []
    for column in _NODE_RESULTS.columns:
        if column.name == "node_id":
            columns.append(node_id)
        elif column.name == "position":
            columns.append(position)
        elif column.name == "run_id":
            columns.append(bindparam("run_id", type_=column.type))
        else:
            columns.append(bindparam(f"default_{column.name}", defaults[column.name], type_=column.type))
    names = [column.name for column in _NODE_RESULTS.columns]
    return insert(_NODE_RESULTS).from_select(names, select(*columns).select_from(items))


def _copied_columns(source: Any, source_run_id: str) -> dict[str, Any]:
    """Column values of a copy of `source`'s row: successes become RESTORED, each names its producer."""
    success = (int(NodeStatus.SUCCEEDED), int(NodeStatus.RESTORED))
    values: dict[str, Any] = {c.name: source.c[c.name] for c in _NODE_RESULTS.columns}
    values["status"] = case((source.c.status.in_(success), int(NodeStatus.RESTORED)), else_=source.c.status)
    values["source_run_id"] = case(
        (source.c.source_run_id == "", source_run_id), else_=source.c.source_run_id
    )
    return values


async def _insert_copies(
    session: AsyncSession, run_id: str, source_run_id: str, node_ids: Sequence[str]
) -> None:
    """Copy the source run's rows of `node_ids` into the new run, in one INSERT … SELECT.

    A resume reuses hundreds of results; copying them inside the database spares converting
    and sending each twice.
    """
    source = _NODE_RESULTS.alias("source")
    values = _copied_columns(source, source_run_id)
    values["run_id"] = literal(run_id)
    names = list(values)
    statement = insert(_NODE_RESULTS).from_select(
        names,
        select(*values.values()).where(source.c.run_id == source_run_id, source.c.node_id.in_(node_ids)),
    )
    await _check_copied(session, await session.execute(statement), source_run_id, node_ids)


async def _copy_results(
    session: AsyncSession, run_id: str, source_run_id: str, node_ids: Sequence[str]
) -> None:
    """Overwrite the new run's rows of `node_ids` with the source run's, in one UPDATE … FROM
    (another workflow version may order the nodes differently, so positions stay the new run's)."""
    source = _NODE_RESULTS.alias("source")
    target = _NODE_RESULTS
    values = _copied_columns(source, source_run_id)
    for key in ("run_id", "node_id", "position"):
        del values[key]
    statement = (
        update(target)
        .values(values)
        .where(
            target.c.run_id == run_id,
            target.c.node_id.in_(node_ids),
            source.c.run_id == source_run_id,
            source.c.node_id == target.c.node_id,
        )
    )
    await _check_copied(session, await session.execute(statement), source_run_id, node_ids)


async def _check_copied(
    session: AsyncSession, result: Any, source_run_id: str, node_ids: Sequence[str]
) -> None:
    """Raise MISSING_PRIOR_RESULT, naming the nodes, when fewer rows were copied than asked."""
    if cast(CursorResult[Any], result).rowcount == len(node_ids):
        return
    found = await session.scalars(
        select(_NODE_RESULTS.c.node_id).where(
            _NODE_RESULTS.c.run_id == source_run_id, _NODE_RESULTS.c.node_id.in_(node_ids)
        )
    )
    raise checks.missing_copies(source_run_id, sorted(set(node_ids) - set(found)))


async def _lineage(session: AsyncSession, run: Run) -> tuple[list[str], int]:
    """The ancestors of a new run, nearest first (its source, then the source's), and the
    source's workflow version (0 for a run that is no resume)."""
    if not run.resume_from_run_id:
        return [], 0
    found = (
        await session.execute(
            select(RunRow.lineage, RunRow.workflow_version).where(RunRow.id == run.resume_from_run_id)
        )
    ).one_or_none()
    if found is None:
        raise RunNotFoundError(run.resume_from_run_id)
    return [run.resume_from_run_id, *found.lineage], int(found.workflow_version)


async def run_id_by_request(session: AsyncSession, workflow_id: str, request_id: str) -> str | None:
    return await session.scalar(
        select(RunRow.id).where(RunRow.workflow_id == workflow_id, RunRow.request_id == request_id)
    )


async def active_resume_of(session: AsyncSession, source_run_id: str) -> str | None:
    """The id of the running resume of `source_run_id`, if there is one."""
    return await session.scalar(select(RunRow.id).where(RunRow.active_resume_of == source_run_id))


# --- runs: guarded writes of the owning runner -----------------------------------------


async def advance(
    session: AsyncSession,
    run_id: str,
    runner_id: str,
    events: Sequence[Event],
    values: dict[str, Any] | None = None,
) -> Row[Any]:
    """Move the run's last sequence past `events`, and set further column `values`.

    The conditional UPDATE is the guard: it matches only while the run is RUNNING,
    owned by `runner_id` and at the sequence just before `events`, so of two writers
    racing for the same sequence exactly one wins.

    Returns:
        The run's row as updated (RETURNING saves the callers a read).
    """
    conditions = [*owned_running(run_id, runner_id)]
    new_values = dict(values or {})
    if events:
        conditions.append(RunRow.last_sequence == events[0].sequence - 1)
        new_values["last_sequence"] = events[-1].sequence
    else:
        new_values.setdefault("runner_id", runner_id)  # no change, but locks the row
    stmt = (
        update(RunRow)
        .where(*conditions)
        .values(new_values)
        .returning(*_RUNS.columns)
        .execution_options(synchronize_session=False)
    )
    found = (await session.execute(stmt)).one_or_none()
    if found is None:
        first = events[0].sequence if events else None
        await raise_guard_failure(session, run_id, runner_id, first)
    return found


def owned_running(run_id: str, runner_id: str) -> tuple[Any, ...]:
    """The WHERE clause of a write only the runner holding the lease may make."""
    return (
        RunRow.id == run_id,
        RunRow.status == int(RunStatus.RUNNING),
        RunRow.runner_id == runner_id,
    )


async def raise_guard_failure(
    session: AsyncSession,
    run_id: str,
    runner_id: str,
    first_sequence: int | None = None,
) -> NoReturn:
    """Raise why a guarded write of the run's runner matched no row.

    Cases: (1) no such run; (2) the run finished; (3) another runner owns it;
    (4) the batch does not continue the stored sequence.
    """
    stmt = select(RunRow.status, RunRow.runner_id, RunRow.last_sequence).where(RunRow.id == run_id)
    found = (await session.execute(stmt)).one_or_none()
    if found is None:  # case (1)
        raise RunNotFoundError(run_id)
    if found.status != RunStatus.RUNNING:  # case (2)
        raise checks.run_finished(run_id, RunStatus(found.status))
    if found.runner_id != runner_id:  # case (3)
        raise checks.lease_lost(run_id, runner_id)
    got = -1 if first_sequence is None else first_sequence  # case (4)
    raise checks.sequence_gap(run_id, found.last_sequence + 1, got)


async def insert_events(session: AsyncSession, run_id: str, events: Sequence[Event]) -> None:
    """Insert `events` in one executemany."""
    await _INSERT_EVENTS.execute(session, [rows.event_values(run_id, event) for event in events])


async def update_results(session: AsyncSession, run_id: str, results: Sequence[NodeResult]) -> None:
    """Overwrite the stored results of these nodes, by primary key, in one executemany.

    Raises:
        InvalidArgumentError: A result names a node the run does not have.
    """
    params = [_keyed(rows.node_result_values(r, run_id=run_id)) for r in results]
    if session.get_bind().dialect.supports_sane_multi_rowcount:  # SQLite counts an executemany's rows
        if await _UPDATE_RESULT.execute(session, params) != len(results):
            await _raise_unknown_nodes(session, run_id, {r.node_id for r in results})
        return
    node_ids = {result.node_id for result in results}
    known = await session.scalar(
        select(func.count()).where(NodeResultRow.run_id == run_id, NodeResultRow.node_id.in_(node_ids))
    )
    if known != len(node_ids):
        await _raise_unknown_nodes(session, run_id, node_ids)
    await _UPDATE_RESULT.execute(session, params)


async def _raise_unknown_nodes(session: AsyncSession, run_id: str, node_ids: set[str]) -> NoReturn:
    stored = await session.scalars(
        select(NodeResultRow.node_id).where(
            NodeResultRow.run_id == run_id, NodeResultRow.node_id.in_(node_ids)
        )
    )
    raise checks.unknown_nodes(run_id, node_ids - set(stored))


# Core executemany statements (see bulk.py): the ORM's bulk paths cost several times more per
# row, which a 1,000-node run pays on every batch.
_INSERT_EVENTS = BulkStatement(insert(_EVENTS))
_INSERT_RESULTS = BulkStatement(insert(_NODE_RESULTS))
_RESULT_COLUMNS = [c.name for c in _NODE_RESULTS.columns if c.name not in ("run_id", "node_id", "position")]
_UPDATE_RESULT = BulkStatement(
    update(_NODE_RESULTS)
    .where(
        _NODE_RESULTS.c.run_id == bindparam("key_run_id"), _NODE_RESULTS.c.node_id == bindparam("key_node_id")
    )
    .values({name: bindparam(name) for name in _RESULT_COLUMNS})
)


def _keyed(values: dict[str, Any]) -> dict[str, Any]:
    values["key_run_id"] = values.pop("run_id")
    values["key_node_id"] = values.pop("node_id")
    return values


async def resolve_lineage(session: AsyncSession, lineage: Sequence[str]) -> None:
    """Mark every run of `lineage` (a succeeded run's ancestors) resolved, in one UPDATE."""
    if not lineage:
        return
    await session.execute(
        update(RunRow)
        .where(RunRow.id.in_(lineage), RunRow.resolved == false())
        .values(resolved=True)
        .execution_options(synchronize_session=False)
    )


# --- runs: lease expiry ----------------------------------------------------------------


async def expire_run(session: AsyncSession, run_id: str, runner_id: str, time: datetime) -> bool:
    """Fail the run as RUNNER_LOST if its lease is still expired at `time`.

    Returns:
        False when the run was renewed or finished since it was found expired.
    """
    summary = f"{RUNNER_LOST}: runner {runner_id!r} stopped renewing the lease of run {run_id!r}"
    sequence = (
        await session.execute(
            update(RunRow)
            .where(
                RunRow.id == run_id,
                RunRow.status == int(RunStatus.RUNNING),
                RunRow.lease_expire_time < time,
            )
            .values(
                status=int(RunStatus.FAILED),
                end_time=time,
                error_summary=summary,
                last_sequence=RunRow.last_sequence + 1,
                active_resume_of=None,
                lease_expire_time=None,
            )
            .returning(RunRow.last_sequence)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if sequence is None:
        return False
    failed = await _fail_unfinished_nodes(session, run_id, time, sequence)
    await session.execute(
        update(RunRow)
        .where(RunRow.id == run_id)
        .values(failed_node_ids=failed)
        .execution_options(synchronize_session=False)
    )
    finished = Event(
        run_id=run_id,
        sequence=sequence,
        time=time,
        kind=EventKind.RUN_FINISHED,
        message=summary,
        run_status=RunStatus.FAILED,
    )
    await insert_events(session, run_id, [finished])
    return True


async def _fail_unfinished_nodes(
    session: AsyncSession, run_id: str, time: datetime, sequence: int
) -> list[str]:
    """Fail the run's PENDING and RUNNING nodes; return all its failed nodes in order."""
    await session.execute(
        update(NodeResultRow)
        .where(
            NodeResultRow.run_id == run_id,
            NodeResultRow.status.in_(_UNFINISHED_NODES),
        )
        .values(
            status=int(NodeStatus.FAILED),
            end_time=time,
            error_code=RUNNER_LOST,
            error_message="the runner executing this run stopped renewing its lease",
            finish_sequence=sequence,
        )
        .execution_options(synchronize_session=False)
    )
    failed = await session.scalars(
        select(NodeResultRow.node_id)
        .where(
            NodeResultRow.run_id == run_id,
            NodeResultRow.status == int(NodeStatus.FAILED),
        )
        .order_by(NodeResultRow.position)
    )
    return list(failed)


# --- reads -----------------------------------------------------------------------------


async def load_run(session: AsyncSession, run_id: str, *, with_results: bool) -> Run:
    """The run, with its node results in position order when `with_results`.

    Raises:
        RunNotFoundError: No such run.
    """
    row = await session.get(RunRow, run_id)
    if row is None:
        raise RunNotFoundError(run_id)
    results = await load_results(session, run_id) if with_results else []
    return rows.run_from_row(row, results)


async def load_lineage(session: AsyncSession, run_id: str) -> tuple[list[Run], list[NodeResult]]:
    """The run and its ancestors nearest-first (no results), and the run's own results.

    Three statements whatever the lineage depth: the run, its ancestors by id, its results.
    Ancestors that no longer exist are left out.

    Raises:
        RunNotFoundError: No such run.
    """
    row = await session.get(RunRow, run_id)
    if row is None:
        raise RunNotFoundError(run_id)
    ancestors: dict[str, RunRow] = {}
    if row.lineage:
        found = await session.scalars(select(RunRow).where(RunRow.id.in_(row.lineage)))
        ancestors = {ancestor.id: ancestor for ancestor in found}
    runs = [rows.run_from_row(row)]
    runs += [rows.run_from_row(ancestors[ancestor]) for ancestor in row.lineage if ancestor in ancestors]
    return runs, await load_results(session, run_id)


# Plain column selects: building ORM instances for a thousand rows costs more than the query.
_SELECT_RESULTS = select(*_NODE_RESULTS.columns)
_SELECT_EVENTS = select(*_EVENTS.columns)


async def load_results(session: AsyncSession, run_id: str) -> list[NodeResult]:
    """The run's node results in topological order."""
    found = await session.execute(
        _SELECT_RESULTS.where(_NODE_RESULTS.c.run_id == run_id).order_by(_NODE_RESULTS.c.position)
    )
    return [rows.node_result_from_row(result) for result in found]


async def load_events(session: AsyncSession, run_id: str, after_sequence: int, limit: int) -> list[Event]:
    """At most `limit` events of the run after `after_sequence`, in order."""
    found = await session.execute(
        _SELECT_EVENTS.where(_EVENTS.c.run_id == run_id, _EVENTS.c.sequence > after_sequence)
        .order_by(_EVENTS.c.sequence)
        .limit(limit)
    )
    return [rows.event_from_row(event) for event in found]
