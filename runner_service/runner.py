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

from resumeflow_core.cache import BoundedCache
from resumeflow_core.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    InvalidWorkflowError,
    UnavailableError,
)
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_NODE_OUTPUT_BYTES, id_problem
from resumeflow_core.lineage import LineageContext
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.nodes.http_transport import open_http_client
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.reasons import (
    OUT_OF_RANGE,
    REQUIRED,
    RUN_FINISHED,
    RUN_NOT_RECORDED,
    SHUTTING_DOWN,
    WORKFLOW_NOT_RUNNABLE,
)
from resumeflow_core.records import Event, NodeResult, Run, RunStart
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Workflow
from runner_service.engine import DEFAULT_MAX_CONCURRENCY, ExecutionPlan, Executor, Redactor
from runner_service.history_client import HistoryClient
from runner_service.requests import Accepted, Finished, ResumeRequest, RunRequest, StreamItem
from runner_service.resume_preparation import PreparedResume, prepare_resume, raise_if_rejected
from runner_service.session import RunSession, is_lost

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and a URL may carry a runtime secret (SPEC §6).
logging.getLogger("httpx").setLevel(logging.WARNING)

RECORDED_CONTEXTS = 32  # finished runs whose lineage context this runner keeps for resumes
DEFAULT_MAX_ACTIVE_RUNS = 64  # runs executing at once per runner; more requests wait their turn
MAX_CONCURRENCY_LIMIT = 1000
PLAN_CACHE_SIZE = 128  # workflow versions whose validated plan is kept
DEFAULT_SHUTDOWN_GRACE = 10.0  # seconds nodes in flight get to finish when the runner stops
SHUTDOWN_TIMEOUT = 10.0  # seconds stopped runs then get to record their end in the history


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
        http_settings: HttpSettings | None = None,
        max_node_output_bytes: int = DEFAULT_MAX_NODE_OUTPUT_BYTES,
    ) -> None:
        self._history = history
        self._registry = registry or default_registry()
        self.runner_id = runner_id or f"runner-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lease_seconds = lease_seconds
        self._default_concurrency = default_concurrency
        self._http_settings = http_settings or HttpSettings()
        self._http = open_http_client(self._http_settings.policy)
        self._plans: BoundedCache[tuple[str, int], ExecutionPlan] = BoundedCache(PLAN_CACHE_SIZE)
        self._sessions: dict[str, RunSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._max_node_output_bytes = max_node_output_bytes
        self._capacity = asyncio.Semaphore(max_active_runs)
        self._queued = 0
        """Requests waiting for capacity."""
        self._admitted = 0
        """Runs holding a unit of capacity: being created or executing."""
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        """Shutting down: new runs are turned away."""
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
            UnavailableError: SHUTTING_DOWN, the runner is stopping; nothing was stored.
        """
        _validate_request(request)
        await self._admit()
        try:
            return await self._start(request)
        except BaseException:
            self._release()
            raise

    async def _admit(self) -> None:
        """Take a unit of capacity: runs beyond it wait here, before anything is stored for them,
        and are turned away once the runner shuts down.

        Raises:
            UnavailableError: The runner is shutting down (reason SHUTTING_DOWN).
        """
        if self._closing:
            raise _shutting_down()
        self._queued += 1
        try:
            await self._capacity.acquire()
        finally:
            self._queued -= 1
        if self._closing:  # woken by `close`, or admitted as it began
            self._capacity.release()
            raise _shutting_down()
        self._admitted += 1
        self._idle.clear()

    def _release(self) -> None:
        self._capacity.release()
        self._admitted -= 1
        if self._admitted == 0:
            self._idle.set()

    async def _start(self, request: RunRequest) -> RunStream:
        """Create and launch a run; holds one unit of capacity until the run ends."""
        launch = await (self._fresh(request) if request.resume is None else self._resumed(request))
        redactor = Redactor(request.secrets.values())
        launch.run.inputs = redactor.redact(launch.run.inputs)
        launch.run.environment = redactor.redact(launch.run.environment)
        if self._closing:
            raise _shutting_down()  # prepared while the runner began stopping: store nothing
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
            self._release()  # another request runs it; this one only follows
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
            redactor=redactor,
            http_settings=self._http_settings,
            max_output_bytes=self._max_node_output_bytes,
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
        if self._closing:
            session.drain()  # recorded while the runner began shutting down: end it as stopped
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
                violations=[FieldViolation("workflow_id", "must not be empty", REQUIRED)],
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
                reason=RUN_FINISHED,
                metadata={"run_id": run_id, "status": status.name},
            )
        return status

    async def close(self, grace: float = DEFAULT_SHUTDOWN_GRACE) -> None:
        """Stop: turn new runs away, let the nodes in flight finish for up to `grace` seconds,
        fail what is unfinished with RUNNER_SHUTDOWN, record every run's end, release resources.

        Runs waiting for capacity are rejected (nothing was stored for them); a run cancelled by
        its user stays CANCELLED. A run whose end cannot be recorded within SHUTDOWN_TIMEOUT
        seconds more (history unreachable) is left to lease expiry (RUNNER_LOST).
        """
        self._closing = True
        for _ in range(self._queued):  # wake every waiting request, to turn it away
            self._capacity.release()
        for session in self._sessions.values():
            session.drain()
        if not await self._wait_idle(grace):
            log.warning("shutdown grace of %gs passed: failing nodes in flight with RUNNER_SHUTDOWN", grace)
            for session in self._sessions.values():
                session.interrupt()
            if not await self._wait_idle(SHUTDOWN_TIMEOUT):
                log.error(
                    "runs not recorded at shutdown, left to lease expiry: %s", ", ".join(self._sessions)
                )
        for task in list(self._tasks):
            task.cancel()
        await self._http.aclose()

    async def _wait_idle(self, timeout: float) -> bool:
        """Wait until no run holds capacity (True), or `timeout` seconds (False)."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _execute(self, session: RunSession) -> None:
        try:
            await session.execute()
        finally:
            self._sessions.pop(session.run.id, None)
            self._release()

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
                    reason=WORKFLOW_NOT_RUNNABLE,
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
                    reason=RUN_NOT_RECORDED,
                    metadata={"run_id": session.run.id},
                )
    finally:
        session.unfollow(queue)


def _shutting_down() -> UnavailableError:
    return UnavailableError(
        "the runner is shutting down and accepts no new runs; retry on another runner or after its restart",
        reason=SHUTTING_DOWN,
    )


def _run_info(run: Run) -> dict[str, object]:
    return {
        "id": run.id,
        "workflow_id": run.workflow_id,
        "workflow_version": run.workflow_version,
        "root_run_id": run.root_run_id or run.id,
        "lineage_depth": run.lineage_depth,
    }


def _validate_request(request: RunRequest) -> None:
    """Raise InvalidArgumentError listing every problem of the request's own fields."""
    violations = []
    if not request.workflow_id:
        violations.append(FieldViolation("workflow_id", "must not be empty", REQUIRED))
    for name, value in (("workflow_id", request.workflow_id), ("request_id", request.request_id)):
        if (problem := id_problem(value)) is not None:
            violations.append(FieldViolation(name, *problem))
    if not 0 <= request.max_concurrency <= MAX_CONCURRENCY_LIMIT:
        violations.append(
            FieldViolation("max_concurrency", f"must be between 0 and {MAX_CONCURRENCY_LIMIT}", OUT_OF_RANGE)
        )
    if violations:
        raise InvalidArgumentError("the run request is invalid", violations=violations)
