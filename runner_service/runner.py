"""The runner service's application layer: accepts runs, executes them in the background and
lets any number of streams follow them. Plain Python; the servicer only converts messages."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    InvalidWorkflowError,
    UnavailableError,
)
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS
from resumeflow_core.lineage import LineageContext
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.records import Event, NodeResult, Run, RunStart
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Workflow
from runner_service.engine import DEFAULT_MAX_CONCURRENCY, ExecutionPlan, Executor, Redactor
from runner_service.history_client import HistoryClient
from runner_service.requests import Accepted, Finished, ResumeRequest, RunRequest, StreamItem
from runner_service.resumes import PreparedResume, prepare_resume, raise_if_rejected
from runner_service.session import RunSession, is_lost

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and a URL may carry a runtime secret (SPEC §6).
logging.getLogger("httpx").setLevel(logging.WARNING)

RECORDED_CONTEXTS = 32  # finished runs whose lineage context this runner keeps for resumes
DEFAULT_MAX_ACTIVE_RUNS = 64  # runs executing at once per runner; more requests wait their turn
MAX_CONCURRENCY_LIMIT = 1000
MAX_REQUEST_ID_LENGTH = 200
PLAN_CACHE_SIZE = 128  # workflow versions whose validated plan is kept
SHUTDOWN_TIMEOUT = 10.0  # seconds active runs get to record their cancellation on shutdown


@dataclass
class _Launch:
    """Everything needed to create and execute one run, fresh or resumed."""

    plan: ExecutionPlan
    run: Run
    environment: dict[str, str]
    inputs: Mapping[str, Any]
    preset: dict[str, NodeResult] = field(default_factory=dict)
    initial_variables: dict[str, Any] | None = None
    restored_node_ids: tuple[str, ...] = ()
    ancestors: tuple[Run, ...] = ()
    """For resumes: the source run's lineage, nearest first."""


@dataclass
class RunStream:
    """An accepted run and the stream of its later events, ending with Finished."""

    accepted: Accepted
    items: AsyncIterator[StreamItem]


class Runner:
    """Runs workflows fetched from the history service and records them there."""

    def __init__(
        self,
        history: HistoryClient,
        *,
        registry: NodeTypeRegistry | None = None,
        runner_id: str = "",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        default_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
    ) -> None:
        self._history = history
        self._registry = registry or default_registry()
        self.runner_id = runner_id or f"runner-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lease_seconds = lease_seconds
        self._default_concurrency = default_concurrency
        self._http = httpx.AsyncClient(follow_redirects=True)
        self._plans: BoundedCache[tuple[str, int], ExecutionPlan] = BoundedCache(PLAN_CACHE_SIZE)
        self._sessions: dict[str, RunSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._capacity = asyncio.Semaphore(max_active_runs)
        # Lineage contexts of runs this runner recorded to the end: resuming them reads nothing.
        self._recorded: BoundedCache[str, LineageContext] = BoundedCache(RECORDED_CONTEXTS)

    async def start_run(self, request: RunRequest) -> RunStream:
        """Accept a run or a resume and start it in the background; the stream only follows it.

        Raises:
            InvalidArgumentError: The request is malformed (every problem listed).
            WorkflowNotFoundError: The workflow does not exist.
            FailedPreconditionError: The stored workflow cannot run here (unknown node types), or a
                resume is rejected (NO_FAILED_RUN, SOURCE_NOT_FAILED, MISSING_SECRET, …).
            ConflictError: RESUME_IN_PROGRESS, another resume of the same source run is active.
        """
        _validate_request(request)
        # Runs beyond the runner's capacity wait here, before anything is stored for them.
        await self._capacity.acquire()
        try:
            return await self._start(request)
        except BaseException:
            self._capacity.release()
            raise

    async def _start(self, request: RunRequest) -> RunStream:
        """Create and launch a run; holds one unit of capacity until the run ends."""
        launch = await (self._fresh(request) if request.resume is None else self._resumed(request))
        redactor = Redactor(request.secrets.values())
        launch.run.inputs = redactor.redact(launch.run.inputs)
        launch.run.environment = redactor.redact(launch.run.environment)
        start = RunStart(
            launch.run,
            node_ids=list(launch.plan.order),
            runner_id=self.runner_id,
            lease_seconds=self._lease_seconds,
            # The history copies reused results from the source run itself, in the database.
            copied_node_ids=list(launch.preset),
        )
        stored, existing = await self._history.create_run(start)
        if existing:
            self._capacity.release()  # another request runs it; this one only follows
            return RunStream(Accepted(stored, existing=True), self._follow_stored(stored))
        executor = Executor(
            launch.plan,
            self._registry,
            self._http,
            inputs=launch.inputs,
            environment=launch.environment,
            secrets=request.secrets,
            run_info=_run_info(stored),
            max_concurrency=request.max_concurrency or self._default_concurrency,
            preset=launch.preset,
            initial_variables=launch.initial_variables,
        )
        session = RunSession(
            stored,
            executor,
            self._history,
            runner_id=self.runner_id,
            redactor=redactor,
            lease_seconds=self._lease_seconds,
            definition_hashes=launch.plan.definition_hashes,
            preset=launch.preset,
            ancestors=launch.ancestors,
            on_recorded=lambda context: self._recorded.put(context.run.id, context),
        )
        queue = session.follow()  # before the task starts, so the stream misses nothing
        self._sessions[stored.id] = session
        task = asyncio.create_task(self._execute(session), name=f"run-{stored.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        accepted = Accepted(stored, restored_node_ids=launch.restored_node_ids)
        return RunStream(accepted, _follow_session(session, queue))

    async def plan_resume(
        self, workflow_id: str, resume: ResumeRequest, secret_names: Collection[str]
    ) -> PreparedResume:
        """What a resume would do, without running it; problems are reported, not raised.

        Raises:
            FailedPreconditionError: NO_FAILED_RUN, or PLAN_STALE for a token that no longer matches.
            NotFoundError: The workflow or the named source run does not exist.
        """
        if not workflow_id:
            raise InvalidArgumentError(
                "workflow_id is required",
                violations=[FieldViolation("workflow_id", "must not be empty", "REQUIRED")],
            )
        return await prepare_resume(
            self._history,
            self._plan,
            workflow_id,
            resume,
            secret_names=secret_names,
            inputs=None,
            registry=self._registry,
            recorded=self._recorded.get,
        )

    async def _fresh(self, request: RunRequest) -> _Launch:
        workflow = await self._history.get_workflow(request.workflow_id)
        run = Run(
            id="",
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            inputs=dict(request.inputs),
            environment_name=request.environment_name,
            environment=dict(request.environment),
            request_id=request.request_id,
        )
        return _Launch(
            self._plan(workflow), run, environment=dict(request.environment), inputs=request.inputs
        )

    async def _resumed(self, request: RunRequest) -> _Launch:
        assert request.resume is not None
        prepared = await prepare_resume(
            self._history,
            self._plan,
            request.workflow_id,
            request.resume,
            secret_names=request.secrets.keys(),
            inputs=request.inputs or None,
            registry=self._registry,
            recorded=self._recorded.get,
        )
        raise_if_rejected(prepared.resume)
        source, root = prepared.lineage.run, prepared.lineage.root
        # Environment values are snapshotted on the source run and reused unless overridden.
        environment = {**source.environment, **request.environment}
        inputs = {**root.inputs, **request.inputs}
        plan = prepared.resume
        run = Run(
            id="",
            workflow_id=prepared.workflow.id,
            workflow_version=prepared.workflow.version,
            inputs=inputs,
            environment_name=request.environment_name or source.environment_name,
            environment=environment,
            request_id=request.request_id,
            resume_from_run_id=source.id,
            resume_from_node_ids=list(plan.start_node_ids),
            resume_mode=plan.mode,
            root_run_id=source.root_run_id or source.id,
            lineage_depth=source.lineage_depth + 1,
        )
        return _Launch(
            prepared.plan,
            run,
            environment=environment,
            inputs=inputs,
            preset=dict(plan.preset),
            initial_variables=dict(plan.initial_variables),
            restored_node_ids=tuple(plan.restored_node_ids),
            ancestors=tuple(prepared.lineage.runs),
        )

    async def cancel(self, run_id: str) -> RunStatus:
        """Stop a run executing here, or ask the history to have its runner stop it.

        Raises:
            RunNotFoundError: No such run.
            FailedPreconditionError: The run already finished (reason RUN_FINISHED).
        """
        session = self._sessions.get(run_id)
        if session is not None:
            session.cancel()
            return RunStatus.RUNNING
        status = await self._history.request_cancel(run_id)
        if status.is_terminal:
            raise FailedPreconditionError(
                f"run {run_id!r} already finished as {status.name}",
                reason="RUN_FINISHED",
                metadata={"run_id": run_id, "status": status.name},
            )
        return status

    async def close(self) -> None:
        """Cancel active runs, give them time to record it, and release resources."""
        for session in self._sessions.values():
            session.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
        await self._http.aclose()

    async def _execute(self, session: RunSession) -> None:
        try:
            await session.execute()
        finally:
            self._sessions.pop(session.run.id, None)
            self._capacity.release()

    def _plan(self, workflow: Workflow) -> ExecutionPlan:
        key = (workflow.id, workflow.version)
        plan = self._plans.get(key)
        if plan is None:
            try:
                validate_workflow(workflow, self._registry)
            except InvalidWorkflowError as error:
                raise FailedPreconditionError(
                    f"workflow {workflow.id!r} version {workflow.version} cannot run on this runner: "
                    f"{error.message}",
                    reason="WORKFLOW_NOT_RUNNABLE",
                    metadata={"workflow_id": workflow.id, "version": str(workflow.version)},
                    violations=error.violations,
                ) from error
            plan = ExecutionPlan.build(workflow)
            self._plans.put(key, plan)
        return plan

    async def _follow_stored(self, run: Run) -> AsyncIterator[StreamItem]:
        """Follow a run that another request started, through the history's event log."""
        async for events in self._history.watch_run(run.id):
            node_events = [event for event in events if event.kind == EventKind.NODE_STATUS]
            if node_events:
                yield node_events
            if events[-1].kind == EventKind.RUN_FINISHED:
                yield Finished(await self._history.get_run(run.id), events[-1].sequence)
                return


async def _follow_session(
    session: RunSession, queue: asyncio.Queue[list[Event] | Finished | object]
) -> AsyncIterator[StreamItem]:
    """The session's stored events as they come; batches already queued go out as one."""
    try:
        while True:
            batch: list[Event] = []
            item = await queue.get()
            while isinstance(item, list):
                batch += item
                if queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                yield batch
            if isinstance(item, Finished):
                yield item
                return
            if is_lost(item):
                raise UnavailableError(
                    f"run {session.run.id!r} can no longer be recorded: the history service refused "
                    "or the runner is stopping; it will fail as RUNNER_LOST and can be resumed",
                    reason="RUN_NOT_RECORDED",
                    metadata={"run_id": session.run.id},
                )
    finally:
        session.unfollow(queue)


def _run_info(run: Run) -> dict[str, object]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "root_run_id": run.root_run_id or run.id,
        "lineage_depth": run.lineage_depth,
    }


def _validate_request(request: RunRequest) -> None:
    violations = []
    if not request.workflow_id:
        violations.append(FieldViolation("workflow_id", "must not be empty", "REQUIRED"))
    if not 0 <= request.max_concurrency <= MAX_CONCURRENCY_LIMIT:
        violations.append(
            FieldViolation(
                "max_concurrency", f"must be between 0 and {MAX_CONCURRENCY_LIMIT}", "OUT_OF_RANGE"
            )
        )
    if len(request.request_id) > MAX_REQUEST_ID_LENGTH:
        violations.append(
            FieldViolation("request_id", f"must be at most {MAX_REQUEST_ID_LENGTH} characters", "TOO_LONG")
        )
    if violations:
        raise InvalidArgumentError("the run request is invalid", violations=violations)
