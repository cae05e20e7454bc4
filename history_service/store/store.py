"""The history store: workflows, runs, node results and event logs in SQL."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Self

from alembic.util import CommandError
from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from history_service.store import checks, migrate, notify, paging, rows
from history_service.store import transactions as tx
from history_service.store.database import (
    IMMEDIATE,
    create_engine,
    create_sessionmaker,
    database_url,
)
from history_service.store.models import (
    RunRow,
    WorkflowRow,
    WorkflowVersionRow,
)
from resumeflow_core.errors import (
    AlreadyExistsError,
    ConflictError,
    FieldViolation,
    InvalidArgumentError,
    RunNotFoundError,
    UnavailableError,
    WorkflowNotFoundError,
)
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS, MAX_STORED_INT
from resumeflow_core.reasons import CONCURRENT_UPDATE
from resumeflow_core.records import Event, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import RunStatus
from resumeflow_core.workflow import Workflow

MAX_EVENTS_PER_CALL = 1000
_WRITE_ATTEMPTS = 3
"""Tries of a write whose unique-constraint conflict may vanish on its own (a concurrent
creator of the same workflow, a blocking resume that finished meanwhile)."""
_CANCELLABLE = (int(RunStatus.QUEUED), int(RunStatus.RUNNING))


class HistoryStore:
    """Persistent history of workflows and runs, on SQLite or PostgreSQL.

    Takes and returns the dataclasses of `resumeflow_core`; rows never leave the store.
    Every write is one transaction. Writes of a run's runner are guarded by the run's
    status, the runner holding its lease and the gapless event sequence.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        """Wrap an engine whose database is migrated already; see `HistoryStore.open`."""
        self._engine = engine
        self._sessions: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Lock() if is_sqlite else contextlib.nullcontext()
        )

    @classmethod
    async def open(cls, url: str) -> HistoryStore:
        """Connect to the database at `url` and migrate it to the latest schema.

        Args:
            url: A SQLAlchemy URL, e.g. `sqlite+aiosqlite:///.resumeflow/history.db` or
                `postgresql+asyncpg://user@host/db`; `sqlite://` and `postgresql://`
                pick the async driver.

        Raises:
            UnavailableError: The URL is invalid or the database is unreachable or
                cannot be migrated; the message is one line and never shows a password.
        """
        try:
            shown = database_url(url).render_as_string(hide_password=True)
        except (ArgumentError, ValueError) as exc:
            raise UnavailableError(
                "invalid database URL (expected e.g. sqlite:///data/history.db or postgresql://user@host/db)"
            ) from exc
        try:
            engine = create_engine(url)
        except (ArgumentError, NoSuchModuleError, OSError) as exc:
            raise UnavailableError(f"cannot open database {shown}: {_line(exc)}") from exc
        try:
            await migrate.upgrade(engine)
        except (SQLAlchemyError, OSError, TimeoutError, CommandError) as exc:
            await engine.dispose()
            raise UnavailableError(f"cannot open database {shown}: {_line(exc)}") from exc
        return cls(engine)

    def listen(self, appended: notify.Appended) -> notify.Listener | None:
        """Start hearing of events any replica appends (PostgreSQL); None where there is nothing to hear."""
        if self._engine.dialect.name != "postgresql":
            return None
        listener = notify.Listener(self._engine.url, appended)
        listener.start()
        return listener

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- workflows ---------------------------------------------------------------------

    async def put_workflow(self, workflow: Workflow) -> tuple[Workflow, bool]:
        """Store `workflow` as its next version, unless its definition is unchanged.

        The caller validates the workflow; its version and timestamps are ignored.

        Returns:
            The new version and True, or the unchanged latest version and False.

        Raises:
            ConflictError: `CONCURRENT_UPDATE`, concurrent writers kept winning.
        """
        conflict: IntegrityError | None = None
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self._writing() as session:
                    return await tx.put_workflow(session, workflow)
            except IntegrityError as exc:
                conflict = exc  # another writer created the same version first
        raise ConflictError(
            f"workflow {workflow.id!r} is being changed concurrently, try again",
            reason=CONCURRENT_UPDATE,
            metadata={"workflow_id": workflow.id},
        ) from conflict

    async def get_workflow(self, workflow_id: str, version: int = 0) -> Workflow:
        """The workflow at `version` (0 means the latest).

        Raises:
            WorkflowNotFoundError: No such workflow or version.
            InvalidArgumentError: `version` is negative.
        """
        checks.non_negative(version, "version")
        if version > MAX_STORED_INT:  # no such version can exist, and the query could not hold it
            raise WorkflowNotFoundError(workflow_id, version)
        wanted = version or WorkflowRow.current_version
        stmt = (
            select(WorkflowRow, WorkflowVersionRow)
            .join(WorkflowVersionRow, WorkflowVersionRow.workflow_id == WorkflowRow.id)
            .where(WorkflowRow.id == workflow_id, WorkflowVersionRow.version == wanted)
        )
        async with self._reading() as session:
            found = (await session.execute(stmt)).one_or_none()
        if found is None:
            raise WorkflowNotFoundError(workflow_id, version)
        return rows.workflow_from_rows(*found)

    async def latest_version(self, workflow_id: str) -> int:
        """The workflow's current version number: one small query, for callers that cache versions.

        Raises:
            WorkflowNotFoundError: No such workflow.
        """
        async with self._reading() as session:
            version = await session.scalar(
                select(WorkflowRow.current_version).where(WorkflowRow.id == workflow_id)
            )
        if version is None:
            raise WorkflowNotFoundError(workflow_id)
        return int(version)

    async def list_workflows(self, page_size: int = 0, page_token: str = "") -> tuple[list[Workflow], str]:
        """The latest version of every workflow, ordered by id.

        Returns:
            One page of workflows and the next page's token ("" after the last page).

        Raises:
            InvalidArgumentError: `page_size` is negative or `page_token` malformed.
        """
        size = paging.page_size(page_size)
        stmt = (
            select(WorkflowRow, WorkflowVersionRow)
            .join(
                WorkflowVersionRow,
                and_(
                    WorkflowVersionRow.workflow_id == WorkflowRow.id,
                    WorkflowVersionRow.version == WorkflowRow.current_version,
                ),
            )
            .order_by(WorkflowRow.id)
            .limit(size + 1)
        )
        if page_token:
            (after,) = paging.decode_token(page_token, 1)
            stmt = stmt.where(WorkflowRow.id > after)
        async with self._reading() as session:
            found = (await session.execute(stmt)).all()
        workflows = [rows.workflow_from_rows(*row) for row in found[:size]]
        more = len(found) > size
        return workflows, paging.encode_token(workflows[-1].id) if more else ""

    # --- runs: writes ------------------------------------------------------------------

    async def create_run(self, start: RunStart) -> tuple[Run, bool]:
        """Start a run: its row, one result per node and the RUN_STARTED event.

        The store sets the id (when empty), status RUNNING, the create and start
        times and last sequence 1. A resume (`resume_from_run_id` set) gets its lineage
        from the stored source run: the source followed by the source's lineage, whose
        last entry is `root_run_id` and whose length is `lineage_depth` (the given
        values of both are ignored); it is the source's active resume until it finishes.
        A run that is no resume is its own root, at depth 0.

        Args:
            start: The run to create (its status, times and node results are ignored)
                and how: its nodes, runner and lease; preset results are stored as given
                (every field, `source_run_id` and `definition_hash` included), and for a
                resume, copied nodes' results come from the source run in the database
                (successes become RESTORED, others keep their status, each copy names its
                producer).

        Returns:
            The run with its node results, and whether it existed already: the same
            `(workflow_id, request_id)` returns the run first created with it, before
            any other check (the source run's existence, an active resume).

        Raises:
            InvalidArgumentError: Duplicate node ids, or presets of unknown nodes.
            WorkflowNotFoundError: No such workflow version.
            RunNotFoundError: The resume's source run does not exist.
            AlreadyExistsError: A run with the given id exists.
            ConflictError: `RESUME_IN_PROGRESS`, another resume of the same source run
                is running (`metadata`: `active_run_id`, `source_run_id`).
            FailedPreconditionError: `MISSING_PRIOR_RESULT`, a result to copy is gone.
        """
        run, node_ids = start.run, start.node_ids
        presets = checks.new_run_nodes(node_ids, start.preset_results)
        checks.copied_nodes(run, node_ids, start.copied_node_ids)
        checks.lease(start.lease_seconds)
        conflict: IntegrityError | None = None
        for _ in range(_WRITE_ATTEMPTS):
            try:
                async with self._writing() as session:
                    return await tx.insert_run(session, start, presets)
            except IntegrityError as exc:
                conflict = exc
                existing = await self._explain_create_failure(run)
                if existing is not None:
                    return existing, True
        raise ConflictError(
            f"a run of workflow {run.workflow_id!r} kept conflicting, try again",
            reason=CONCURRENT_UPDATE,
            metadata={"workflow_id": run.workflow_id},
        ) from conflict

    async def append_events(
        self,
        run_id: str,
        runner_id: str,
        events: Sequence[Event],
        node_results: Sequence[NodeResult] = (),
    ) -> tuple[int, bool]:
        """Append a batch of events and node result updates to a running run.

        One transaction whatever the batch size; nothing is stored on any error.

        Args:
            run_id: The run.
            runner_id: The runner holding the run's lease.
            events: Consecutive events continuing the run's last sequence.
            node_results: The new state of the nodes the batch changed.

        Returns:
            The run's last sequence and whether its cancellation was requested.

        Raises:
            RunNotFoundError: No such run.
            FailedPreconditionError: `RUN_FINISHED`, the run is no longer RUNNING.
            ConflictError: `LEASE_LOST`, another runner holds the run; `SEQUENCE_GAP`,
                the batch does not continue the stored sequence or has a gap itself
                (`metadata`: `expected`, `got`).
            InvalidArgumentError: An event of another run, a result of an unknown node.
        """
        checks.event_batch(run_id, events)
        async with self._writing() as session:
            row = await tx.advance(session, run_id, runner_id, events)
            if events:
                await tx.insert_events(session, run_id, events)
            if node_results:
                await tx.update_results(session, run_id, node_results)
            await notify.announce(session, run_id, row.last_sequence)
        return row.last_sequence, row.cancel_requested

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        end: RunEnd,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run:
        """Record the end of a run and its RUN_FINISHED event; release its lease.

        A run that SUCCEEDED resolves its whole lineage: every ancestor is marked
        resolved in the same transaction, so `get_latest_failed` no longer offers it.

        Args:
            run_id: The run.
            runner_id: The runner holding the run's lease.
            end: How the run ended; an unspecified `run_status` of its RUN_FINISHED
                event becomes its status.
            events: Events not appended yet, stored before `event` in the same
                transaction (saves a short run a round trip).
            node_results: The node results those events changed.

        Returns:
            The finished run, without node results.

        Raises:
            InvalidArgumentError: The status is not final, the event is not RUN_FINISHED.
            RunNotFoundError, FailedPreconditionError, ConflictError: As for
                `append_events`.
        """
        status, event = RunStatus(end.status), end.event
        checks.finish(run_id, status, event)
        checks.event_batch(run_id, [*events, event])
        if event.run_status == RunStatus.UNSPECIFIED:
            event = dataclasses.replace(event, run_status=status)
        values = {
            "status": int(status),
            "end_time": tx.now(),
            "failed_node_ids": list(end.failed_node_ids),
            "variables": dict(end.variables),
            "error_summary": end.error_summary,
            "active_resume_of": None,
            "lease_expire_time": None,
        }
        async with self._writing() as session:
            row = await tx.advance(session, run_id, runner_id, [*events, event], values=values)
            await tx.insert_events(session, run_id, [*events, event])
            if node_results:
                await tx.update_results(session, run_id, node_results)
            if status == RunStatus.SUCCEEDED:
                await tx.resolve_lineage(session, row.lineage)
            await notify.announce(session, run_id, row.last_sequence)
            return rows.run_from_row(row)

    async def heartbeat(
        self, run_id: str, runner_id: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> tuple[datetime, bool]:
        """Renew the lease of a running run for `lease_seconds` from now, by the database's clock.

        Returns:
            When the lease now expires, and whether the run's cancellation was requested.

        Raises:
            RunNotFoundError, FailedPreconditionError, ConflictError: As for
                `append_events`.
        """
        lease_seconds = checks.lease(lease_seconds)
        async with self._writing() as session:
            stmt = (
                update(RunRow)
                .where(*tx.owned_running(run_id, runner_id))
                .values(
                    lease_expire_time=tx.lease_expiry(session, lease_seconds), lease_seconds=lease_seconds
                )
                .returning(RunRow.lease_expire_time, RunRow.cancel_requested)
                .execution_options(synchronize_session=False)
            )
            renewed = (await session.execute(stmt)).one_or_none()
            if renewed is None:
                await tx.raise_guard_failure(session, run_id, runner_id)
        return renewed.lease_expire_time, renewed.cancel_requested

    async def request_cancel(self, run_id: str) -> RunStatus:
        """Ask the runner of a queued or running run to cancel it.

        Returns:
            The run's status; a finished run stays as it is.

        Raises:
            RunNotFoundError: No such run.
        """
        stmt = (
            update(RunRow)
            .where(RunRow.id == run_id, RunRow.status.in_(_CANCELLABLE))
            .values(cancel_requested=True)
            .returning(RunRow.status)
            .execution_options(synchronize_session=False)
        )
        async with self._writing() as session:
            status = (await session.execute(stmt)).scalar_one_or_none()
            if status is None:
                status = await session.scalar(select(RunRow.status).where(RunRow.id == run_id))
        if status is None:
            raise RunNotFoundError(run_id)
        return RunStatus(status)

    async def expire_leases(self, now: datetime | None = None) -> list[str]:
        """Fail every running run whose runner stopped renewing its lease.

        Such a run becomes FAILED with a `RUNNER_LOST: …` error summary, its PENDING
        and RUNNING nodes FAILED with error code `RUNNER_LOST`, its `failed_node_ids`
        all its failed nodes in position order, and its log ends with RUN_FINISHED.

        Args:
            now: The time to expire leases at (default: the database's clock); timezone-aware.

        Returns:
            The ids of the runs this call failed.
        """
        found, candidates = await self.find_expired_leases(now=now)
        return await self.expire_runs(candidates, found)

    async def find_expired_leases(
        self, *, watched_seconds: float | None = None, now: datetime | None = None
    ) -> tuple[datetime, list[tuple[str, str]]]:
        """The running runs whose lease ran out, oldest expiry first, without changing them.

        Args:
            watched_seconds: Only runs whose lease is at most this long (the time the caller
                has itself been watching for renewals); None for any.
            now: The time to compare with (default: the database's clock).

        Returns:
            The time compared with, and `(run_id, runner_id)` of each run found.
        """
        async with self._reading() as session:
            now = now or await tx.database_now(session)
            stmt = (
                select(RunRow.id, RunRow.runner_id)
                .where(RunRow.status == int(RunStatus.RUNNING), RunRow.lease_expire_time < now)
                .order_by(RunRow.lease_expire_time)
            )
            if watched_seconds is not None:
                stmt = stmt.where(RunRow.lease_seconds <= watched_seconds)
            candidates = [(str(run_id), str(runner_id)) for run_id, runner_id in await session.execute(stmt)]
        return now, candidates

    async def expire_runs(self, candidates: Iterable[tuple[str, str]], now: datetime) -> list[str]:
        """Fail the `(run_id, runner_id)` runs of `find_expired_leases` still expired at `now`.

        Returns:
            The ids of the runs this call failed; one renewed or finished meanwhile is skipped.
        """
        expired = []
        for run_id, runner_id in candidates:
            # A transaction per run: a run renewed or finished meanwhile is skipped.
            async with self._writing() as session:
                if await tx.expire_run(session, run_id, runner_id, now):
                    expired.append(run_id)
                    last = await session.scalar(select(RunRow.last_sequence).where(RunRow.id == run_id))
                    await notify.announce(session, run_id, int(last or 0))
        return expired

    # --- runs: reads -------------------------------------------------------------------

    async def get_run(self, run_id: str, *, with_results: bool = True) -> Run:
        """One run, with its node results in topological order unless told otherwise.

        Raises:
            RunNotFoundError: No such run.
        """
        async with self._reading() as session:
            return await tx.load_run(session, run_id, with_results=with_results)

    async def get_latest_failed(self, workflow_id: str) -> Run | None:
        """The workflow's newest FAILED run that is not resolved, without node results.

        A run is resolved once a run resumed from it, directly or through a chain,
        SUCCEEDED. CANCELLED runs are never returned. One indexed query.

        Returns:
            The run, or None when there is none (also for an unknown workflow).
        """
        stmt = (
            select(RunRow)
            .where(
                RunRow.workflow_id == workflow_id,
                RunRow.status == int(RunStatus.FAILED),
                RunRow.resolved == false(),
            )
            .order_by(RunRow.create_time.desc(), RunRow.id.desc())
            .limit(1)
        )
        async with self._reading() as session:
            found = await session.scalar(stmt)
        return None if found is None else rows.run_from_row(found)

    async def get_lineage(self, run_id: str) -> tuple[list[Run], list[NodeResult]]:
        """A run's lineage and the run's own node results, in at most three queries.

        Returns:
            The runs, without node results: the run first, then its ancestors
            nearest-first, the root last (an ancestor that no longer exists is left
            out); and the run's node results in topological order, as stored: a result
            the run produced itself has an empty `source_run_id`, a restored or carried
            one names the run that produced it.

        Raises:
            RunNotFoundError: No such run.
        """
        async with self._reading() as session:
            return await tx.load_lineage(session, run_id)

    async def list_runs(
        self,
        workflow_id: str = "",
        statuses: Iterable[RunStatus] = (),
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[Run], str]:
        """Runs newest first, without their node results.

        Args:
            workflow_id: Only this workflow's runs ("" for every workflow).
            statuses: Only runs in one of these statuses (empty for any).
            page_size: At most this many runs (0 means 50; capped at 1000).
            page_token: The previous page's next-page token, "" for the first page.

        Returns:
            One page of runs and the next page's token ("" after the last page).

        Raises:
            InvalidArgumentError: `page_size` is negative or `page_token` malformed.
        """
        size = paging.page_size(page_size)
        stmt = select(RunRow).order_by(RunRow.create_time.desc(), RunRow.id.desc()).limit(size + 1)
        if workflow_id:
            stmt = stmt.where(RunRow.workflow_id == workflow_id)
        if wanted := sorted({int(status) for status in statuses}):
            stmt = stmt.where(RunRow.status.in_(wanted))
        if page_token:
            time, run_id = paging.decode_time_token(page_token)
            stmt = stmt.where(
                or_(
                    RunRow.create_time < time,
                    and_(RunRow.create_time == time, RunRow.id < run_id),
                )
            )
        async with self._reading() as session:
            found = (await session.scalars(stmt)).all()
        runs = [rows.run_from_row(row) for row in found[:size]]
        if len(found) <= size:
            return runs, ""
        last = found[size - 1]
        return runs, paging.encode_token(last.create_time.isoformat(), last.id)

    async def run_ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Ids of runs that start with `prefix`, in id order; at most `limit`.

        The range condition lets the primary key's index find them; LIKE keeps the answer exact
        whatever the database's collation.
        """
        stmt = (
            select(RunRow.id)
            .where(RunRow.id >= prefix, RunRow.id.startswith(prefix, autoescape=True))
            .order_by(RunRow.id)
            .limit(limit)
        )
        async with self._reading() as session:
            return list((await session.scalars(stmt)).all())

    async def list_events(
        self, run_id: str, after_sequence: int = 0, limit: int = MAX_EVENTS_PER_CALL
    ) -> list[Event]:
        """The run's events after `after_sequence`, in order; at most `limit` (≤ 1000).

        Raises:
            RunNotFoundError: No such run.
            InvalidArgumentError: `limit` is not positive.
        """
        if limit <= 0:
            raise InvalidArgumentError(
                f"limit must be positive, got {limit}",
                violations=[FieldViolation("limit", "must be positive")],
            )
        async with self._reading() as session:
            events = await tx.load_events(session, run_id, after_sequence, min(limit, MAX_EVENTS_PER_CALL))
            if not events and await session.get(RunRow, run_id) is None:
                raise RunNotFoundError(run_id)
        return events

    async def get_run_progress(self, run_id: str) -> tuple[RunStatus, int]:
        """The run's status and last event sequence, in one primary-key lookup.

        Raises:
            RunNotFoundError: No such run.
        """
        stmt = select(RunRow.status, RunRow.last_sequence).where(RunRow.id == run_id)
        async with self._reading() as session:
            found = (await session.execute(stmt)).one_or_none()
        if found is None:
            raise RunNotFoundError(run_id)
        return RunStatus(found.status), found.last_sequence

    # --- internals ---------------------------------------------------------------------

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A session in a write transaction (on SQLite holding the write lock at once).

        SQLite has one writer at a time. Writers of this process queue on an asyncio lock
        instead of on SQLite's busy handler, which sleeps in growing steps (up to 100 ms), and
        would do so on the event loop's thread (see `sqlite_inline`) while the lock's holder
        waits for that very loop.
        """
        async with self._write_lock, self._sessions() as session, session.begin():
            await session.connection(execution_options={IMMEDIATE: True})
            yield session

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        """A session in a read transaction: one consistent snapshot."""
        async with self._sessions() as session, session.begin():
            yield session

    async def _explain_create_failure(self, run: Run) -> Run | None:
        """Why inserting `run` broke a constraint: the idempotent run, or an error.

        Returns None when the cause is gone (the blocking resume finished meanwhile).
        """
        async with self._reading() as session:
            if run.request_id:
                existing = await tx.run_id_by_request(session, run.workflow_id, run.request_id)
                if existing is not None:
                    return await tx.load_run(session, existing, with_results=True)
            if run.resume_from_run_id:
                active = await tx.active_resume_of(session, run.resume_from_run_id)
                if active is not None:
                    raise checks.resume_in_progress(active, run.resume_from_run_id)
            key = (run.workflow_id, run.workflow_version)
            if await session.get(WorkflowVersionRow, key) is None:
                raise WorkflowNotFoundError(run.workflow_id, run.workflow_version)
            if run.id and await session.get(RunRow, run.id) is not None:
                raise AlreadyExistsError(f"run {run.id!r} already exists", metadata={"run_id": run.id})
        return None


def _line(exc: BaseException) -> str:
    """The first line of an error's message (SQLAlchemy appends background links)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
