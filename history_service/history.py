"""The history service's application layer: validation, storage, live fan-out and lease expiry.

Plain Python over `HistoryStore`; the servicer only converts messages and calls in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from history_service.hub import EventHub, RunChannel
from history_service.reaper import CHECK_INTERVAL, LeaseReaper
from history_service.store import HistoryStore
from history_service.store.notify import Listener
from history_service.writers import ActiveWriters
from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    RunNotFoundError,
)
from resumeflow_core.limits import MAX_STORED_INT, text_problem
from resumeflow_core.lineage import FailedNode, LineageContext, build_context
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.reasons import AMBIGUOUS_RUN_ID, NO_FAILED_RUN, OUT_OF_RANGE, REQUIRED, TOO_LONG
from resumeflow_core.records import Event, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Workflow

log = logging.getLogger(__name__)

WATCH_POLL_INTERVAL = 0.5  # seconds between database reads (one per watched run) while it is quiet
WATCH_SAFETY_INTERVAL = 5.0  # seconds a watcher waits for its channel before it checks the database itself
WATCH_PAGE = 1000  # events per database read while replaying
WORKFLOW_CACHE_SIZE = 256  # workflow versions kept in memory
MIN_RUN_ID_PREFIX = 6  # characters of a run id that name it (in 16^6 ids, collisions are rare)
MAX_RUN_ID_LENGTH = 64
AMBIGUOUS_CANDIDATES = 10  # run ids an ambiguous prefix's error lists


class History:
    """Everything the history service does, independent of gRPC."""

    def __init__(self, store: HistoryStore, registry: NodeTypeRegistry | None = None) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.hub = EventHub()
        self.writers = ActiveWriters()
        self._workflows: BoundedCache[tuple[str, int], Workflow] = BoundedCache(WORKFLOW_CACHE_SIZE)
        self._reaper: asyncio.Task[None] | None = None
        self._listener: Listener | None = None

    @classmethod
    async def open(cls, database_url: str) -> History:
        history = cls(await HistoryStore.open(database_url))
        history._listener = history.store.listen(history.hub.announced)
        return history

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self.store.close()

    # --- workflows --------------------------------------------------------------------------

    async def get_workflow(self, workflow_id: str, version: int = 0) -> Workflow:
        """A workflow version; versions never change, so they are served from memory once read.

        Raises:
            WorkflowNotFoundError: No such workflow or version.
        """
        if version == 0:
            version = await self.store.latest_version(workflow_id)
        workflow = self._workflows.get((workflow_id, version))
        if workflow is None:
            workflow = await self.store.get_workflow(workflow_id, version)
            self._workflows.put((workflow_id, version), workflow)
        return workflow

    async def put_workflow(self, workflow: Workflow) -> tuple[Workflow, bool]:
        # In a thread: a workflow may hold thousands of templates to parse, and the event loop
        # must keep answering everyone else (health checks included) meanwhile.
        await asyncio.to_thread(validate_workflow, workflow, self.registry)
        return await self.store.put_workflow(workflow)

    # --- runs -------------------------------------------------------------------------------

    async def resolve_run_id(self, prefix: str) -> str:
        """The full id of the one run whose id starts with `prefix` (case-insensitive).

        Raises:
            InvalidArgumentError: The prefix is shorter than MIN_RUN_ID_PREFIX (TOO_SHORT), longer
                than any id (TOO_LONG), or names several runs (AMBIGUOUS_RUN_ID, with candidates).
            RunNotFoundError: No run id starts with it.
        """
        prefix = prefix.strip().lower()
        if problem := text_problem(prefix):
            raise InvalidArgumentError(
                "the run id prefix is invalid", violations=[FieldViolation("prefix", *problem)]
            )
        if not MIN_RUN_ID_PREFIX <= len(prefix) <= MAX_RUN_ID_LENGTH:
            reason = "TOO_SHORT" if len(prefix) < MIN_RUN_ID_PREFIX else TOO_LONG
            raise InvalidArgumentError(
                f"a run id prefix must have {MIN_RUN_ID_PREFIX} to {MAX_RUN_ID_LENGTH} characters",
                violations=[FieldViolation("prefix", f"has {len(prefix)} characters", reason)],
            )
        found = await self.store.run_ids_with_prefix(prefix, AMBIGUOUS_CANDIDATES + 1)
        if not found:
            raise RunNotFoundError(prefix)
        if len(found) > 1:
            shown = found[:AMBIGUOUS_CANDIDATES]
            more = "" if len(found) <= AMBIGUOUS_CANDIDATES else " and more"
            raise InvalidArgumentError(
                f"run id prefix {prefix!r} names several runs: {', '.join(shown)}{more}",
                reason=AMBIGUOUS_RUN_ID,
                metadata={"prefix": prefix, "candidates": ",".join(shown)},
                violations=[FieldViolation("prefix", "names several runs", AMBIGUOUS_RUN_ID)],
            )
        return found[0]

    # --- resume support ---------------------------------------------------------------------

    async def latest_failed(self, workflow_id: str) -> tuple[Run, list[FailedNode]]:
        """The workflow's newest unresolved FAILED run and its failed nodes, in topological order.

        Raises:
            WorkflowNotFoundError: No such workflow.
            FailedPreconditionError: NO_FAILED_RUN, there is nothing to resume.
        """
        run = await self.store.get_latest_failed(workflow_id)
        if run is None:
            await self.store.get_workflow(workflow_id)  # an unknown workflow is NOT_FOUND instead
            raise FailedPreconditionError(
                f"workflow {workflow_id!r} has no unresolved failed run: nothing to resume",
                reason=NO_FAILED_RUN,
                metadata={"workflow_id": workflow_id},
            )
        workflow = await self.get_workflow(run.workflow_id, run.workflow_version)
        definitions = {node.id: node for node in workflow.nodes}
        with_results = await self.store.get_run(run.id)  # the run's own results carry the errors
        # As events and GetRun show them: the code first (`HTTP_STATUS: …`), so a reader can act on it.
        errors = {
            r.node_id: f"{r.error.code}: {r.error.message}" if r.error.code else r.error.message
            for r in with_results.node_results
            if r.error is not None
        }
        failed = [
            FailedNode(
                node_id, definitions[node_id].label, definitions[node_id].type, errors.get(node_id, "")
            )
            for node_id in run.failed_node_ids
            if node_id in definitions
        ]
        return run, failed

    async def lineage_context(self, run_id: str) -> LineageContext:
        """The run's lineage, effective results with provenance and rebuilt variables, in a
        bounded number of queries whatever the lineage depth."""
        runs, results = await self.store.get_lineage(run_id)
        return build_context(runs, results)

    # --- runner-facing writes ---------------------------------------------------------------

    async def create_run(self, start: RunStart) -> tuple[Run, bool]:
        _require_runner(start.runner_id)
        stored, existing = await self.store.create_run(start)
        if not existing:
            self.writers.wrote(stored.id, start.lease_seconds)
        return stored, existing

    async def append_events(
        self,
        run_id: str,
        runner_id: str,
        events: Sequence[Event],
        node_results: Sequence[NodeResult],
    ) -> tuple[int, bool]:
        _require_runner(runner_id)
        result = await self.store.append_events(run_id, runner_id, list(events), list(node_results))
        self.writers.wrote(run_id)
        self.hub.publish(run_id, events)
        return result

    async def heartbeat(self, run_id: str, runner_id: str, lease_seconds: float) -> tuple[datetime, bool]:
        """Renew the run's lease; returns when it now expires and whether cancellation was asked."""
        renewed = await self.store.heartbeat(run_id, runner_id, lease_seconds)
        self.writers.wrote(run_id, lease_seconds)
        return renewed

    async def finish_run(
        self,
        run_id: str,
        runner_id: str,
        end: RunEnd,
        events: Sequence[Event] = (),
        node_results: Sequence[NodeResult] = (),
    ) -> Run:
        _require_runner(runner_id)
        if not end.status.is_terminal:
            raise InvalidArgumentError(
                "a run can only finish as SUCCEEDED, FAILED or CANCELLED",
                violations=[FieldViolation("status", "must be a terminal status", "NOT_TERMINAL")],
            )
        if end.event.run_status == RunStatus.UNSPECIFIED:  # as the store records it, for live watchers too
            end = dataclasses.replace(end, event=dataclasses.replace(end.event, run_status=end.status))
        run = await self.store.finish_run(run_id, runner_id, end, events, node_results)
        self.writers.finished(run_id)
        self.hub.publish(run_id, [*events, end.event])
        return run

    # --- stopping ---------------------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        """Prepare to stop: end every watch at once (UNAVAILABLE SHUTTING_DOWN, so clients go to
        another replica) and wait until the runners writing here recorded their runs' ends.

        Returns:
            True when no run is left whose runner may still write here; False when `timeout`
            seconds passed first.
        """
        self.hub.close()
        return await self.writers.wait_idle(timeout)

    # --- watching ---------------------------------------------------------------------------

    async def watch(self, run_id: str, after_sequence: int) -> AsyncIterator[list[Event]]:
        """Yield the run's events after `after_sequence` in batches, in order, without gaps or
        repeats, until its RUN_FINISHED event.

        Stored events come from the database; live ones from the in-process hub when they were
        appended here, or from a periodic database read when another replica appended them.
        Batches keep a busy run with many watchers from paying one message per event each.

        A finished run's watch ends at once, empty, for any `after_sequence` at or past its last
        event (a client reconnecting after the end).

        Raises:
            InvalidArgumentError: `after_sequence` is negative, or beyond any sequence of a run
                still going.
            RunNotFoundError: No such run.
        """
        if after_sequence < 0:
            raise InvalidArgumentError(
                "after_sequence must not be negative",
                violations=[FieldViolation("after_sequence", "must be >= 0", "NEGATIVE")],
            )
        self.hub.raise_if_closed()
        status, last_sequence = await self.store.get_run_progress(run_id)  # NOT_FOUND first
        if status.is_terminal and after_sequence >= last_sequence:
            return  # a finished log ends with RUN_FINISHED: nothing can follow what was asked
        if after_sequence > MAX_STORED_INT:  # a live run cannot reach it; the database cannot hold it
            raise InvalidArgumentError(
                f"after_sequence must be at most {MAX_STORED_INT}",
                violations=[FieldViolation("after_sequence", f"must be <= {MAX_STORED_INT}", OUT_OF_RANGE)],
            )
        cursor = after_sequence
        channel = self.hub.subscribe(run_id)
        if channel.poller is None:
            channel.poller = asyncio.create_task(self._poll(run_id, channel), name=f"watch-poll-{run_id}")
        try:
            read_database = True  # replay first; later only on a gap, a full page or a long silence
            while True:
                self.hub.raise_if_closed()  # a draining replica sends its watchers elsewhere
                buffered = channel.after(cursor)
                full_page = False
                if buffered:
                    events = buffered
                elif read_database or buffered is None:
                    events = await self.store.list_events(run_id, cursor, limit=WATCH_PAGE)
                    full_page = len(events) == WATCH_PAGE
                else:
                    events = []
                if events:
                    yield events
                    cursor = events[-1].sequence
                    if events[-1].kind == EventKind.RUN_FINISHED:  # always the log's last event
                        return
                    read_database = full_page
                    continue
                if channel.finished and channel.last_sequence <= cursor:
                    return  # the run finished at or before the sequence asked for
                read_database = not await channel.wait_after(cursor, WATCH_SAFETY_INTERVAL)
        finally:
            self.hub.unsubscribe(run_id, channel)

    async def _poll(self, run_id: str, channel: RunChannel) -> None:
        """Read what other replicas append to a watched run, once for all its watchers here:
        when the database announces it, else every WATCH_POLL_INTERVAL."""
        _, known = await self.store.get_run_progress(run_id)
        while not channel.finished:
            known = max(known, channel.last_sequence)
            woken = await channel.wait_after(known, WATCH_POLL_INTERVAL)
            if woken and channel.last_sequence > known and not channel.take_poke():
                continue  # published by an append through this replica
            try:
                channel.publish(await self.store.list_events(run_id, max(known, channel.last_sequence)))
            except Exception:  # a failed poll is retried on the next interval
                log.warning("polling the events of run %s failed", run_id, exc_info=True)

    # --- leases -----------------------------------------------------------------------------

    def start_lease_reaper(self, interval: float = CHECK_INTERVAL) -> None:
        """Periodically fail runs whose runner stopped heartbeating (RUNNER_LOST); see `reaper`."""
        reaper = LeaseReaper(self._find_expired, self._expire, check_interval=interval)
        self._reaper = asyncio.create_task(reaper.run(), name="lease-reaper")

    async def expire_leases(self, now: datetime | None = None) -> list[str]:
        """Fail every run whose lease ran out at `now` (default: the database's clock) at once,
        however long this replica has been watching."""
        found, candidates = await self.store.find_expired_leases(now=now)
        return await self._expire(candidates, found)

    async def _find_expired(self, watched_seconds: float) -> tuple[datetime, list[tuple[str, str]]]:
        return await self.store.find_expired_leases(watched_seconds=watched_seconds)

    async def _expire(self, candidates: list[tuple[str, str]], now: datetime) -> list[str]:
        expired = await self.store.expire_runs(candidates, now)
        for run_id in expired:
            self.writers.finished(run_id)
            # The store wrote the RUN_FINISHED event; hand it to this replica's watchers.
            _, last_sequence = await self.store.get_run_progress(run_id)
            self.hub.publish(run_id, await self.store.list_events(run_id, last_sequence - 1, limit=1))
        return expired


def _require_runner(runner_id: str) -> None:
    if not runner_id:
        raise InvalidArgumentError(
            "runner_id is required",
            violations=[FieldViolation("runner_id", "must not be empty", REQUIRED)],
        )
