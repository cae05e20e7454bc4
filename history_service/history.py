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
from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import FailedPreconditionError, FieldViolation, InvalidArgumentError
from resumeflow_core.lineage import FailedNode, LineageContext, build_context
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.records import Event, NodeResult, Run, RunEnd, RunStart
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Workflow

log = logging.getLogger(__name__)

WATCH_POLL_INTERVAL = 0.5  # seconds between database reads (one per watched run) while it is quiet
WATCH_SAFETY_INTERVAL = 5.0  # seconds a watcher waits for its channel before it checks the database itself
WATCH_PAGE = 1000  # events per database read while replaying
WORKFLOW_CACHE_SIZE = 256  # workflow versions kept in memory


class History:
    """Everything the history service does, independent of gRPC."""

    def __init__(self, store: HistoryStore, registry: NodeTypeRegistry | None = None) -> None:
        self.store = store
        self.registry = registry or default_registry()
        self.hub = EventHub()
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
        validate_workflow(workflow, self.registry)
        return await self.store.put_workflow(workflow)

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
                reason="NO_FAILED_RUN",
                metadata={"workflow_id": workflow_id},
            )
        workflow = await self.get_workflow(run.workflow_id, run.workflow_version)
        definitions = {node.id: node for node in workflow.nodes}
        with_results = await self.store.get_run(run.id)  # the run's own results carry the errors
        errors = {r.node_id: r.error.message for r in with_results.node_results if r.error is not None}
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
        return await self.store.create_run(start)

    async def append_events(
        self,
        run_id: str,
        runner_id: str,
        events: Sequence[Event],
        node_results: Sequence[NodeResult],
    ) -> tuple[int, bool]:
        _require_runner(runner_id)
        result = await self.store.append_events(run_id, runner_id, list(events), list(node_results))
        self.hub.publish(run_id, events)
        return result

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
        self.hub.publish(run_id, [*events, end.event])
        return run

    # --- watching ---------------------------------------------------------------------------

    async def watch(self, run_id: str, after_sequence: int) -> AsyncIterator[list[Event]]:
        """Yield the run's events after `after_sequence` in batches, in order, without gaps or
        repeats, until its RUN_FINISHED event.

        Stored events come from the database; live ones from the in-process hub when they were
        appended here, or from a periodic database read when another replica appended them.
        Batches keep a busy run with many watchers from paying one message per event each.
        """
        if after_sequence < 0:
            raise InvalidArgumentError(
                "after_sequence must not be negative",
                violations=[FieldViolation("after_sequence", "must be >= 0", "NEGATIVE")],
            )
        await self.store.get_run_progress(run_id)  # NOT_FOUND before anything else
        cursor = after_sequence
        channel = self.hub.subscribe(run_id)
        if channel.poller is None:
            channel.poller = asyncio.create_task(self._poll(run_id, channel), name=f"watch-poll-{run_id}")
        try:
            read_database = True  # replay first; later only on a gap, a full page or a long silence
            while True:
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
            # The store wrote the RUN_FINISHED event; hand it to this replica's watchers.
            _, last_sequence = await self.store.get_run_progress(run_id)
            self.hub.publish(run_id, await self.store.list_events(run_id, last_sequence - 1, limit=1))
        return expired


def _require_runner(runner_id: str) -> None:
    if not runner_id:
        raise InvalidArgumentError(
            "runner_id is required",
            violations=[FieldViolation("runner_id", "must not be empty", "REQUIRED")],
        )
