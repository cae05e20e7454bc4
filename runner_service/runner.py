"""The runner service's application layer: accepts runs, executes them in the background and
lets any number of streams follow them. Plain Python; the servicer only converts messages."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import httpx

from resumeflow_core.errors import (
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    InvalidWorkflowError,
    UnavailableError,
    UnimplementedError,
)
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.records import Run
from resumeflow_core.status import EventKind, RunStatus
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Workflow
from runner_service.engine import DEFAULT_MAX_CONCURRENCY, ExecutionPlan, Executor, Redactor
from runner_service.history_client import HistoryClient
from runner_service.requests import Accepted, Finished, RunRequest, StreamItem
from runner_service.session import RunSession, is_lost

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0
MAX_CONCURRENCY_LIMIT = 1000
MAX_REQUEST_ID_LENGTH = 200
PLAN_CACHE_SIZE = 128  # workflow versions whose validated plan is kept
SHUTDOWN_TIMEOUT = 10.0  # seconds active runs get to record their cancellation on shutdown


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
    ) -> None:
        self._history = history
        self._registry = registry or default_registry()
        self.runner_id = runner_id or f"runner-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lease_seconds = lease_seconds
        self._default_concurrency = default_concurrency
        self._http = httpx.AsyncClient(follow_redirects=True)
        self._plans: OrderedDict[tuple[str, int], ExecutionPlan] = OrderedDict()
        self._sessions: dict[str, RunSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start_run(self, request: RunRequest) -> RunStream:
        """Accept a run and start it in the background; the returned stream only follows it.

        Raises:
            InvalidArgumentError: The request is malformed (every problem listed).
            WorkflowNotFoundError: The workflow does not exist.
            FailedPreconditionError: The stored workflow cannot run here (unknown node types).
        """
        _validate_request(request)
        if request.resume is not None:
            raise UnimplementedError(
                "resuming a failed run is not implemented yet", reason="RESUME_UNIMPLEMENTED"
            )
        workflow = await self._history.get_workflow(request.workflow_id)
        plan = self._plan(workflow)
        redactor = Redactor(request.secrets.values())
        run = Run(
            id="",
            workflow_id=workflow.id,
            workflow_version=workflow.version,
            inputs=redactor.redact(request.inputs),
            environment_name=request.environment_name,
            environment=dict(request.environment),
            request_id=request.request_id,
        )
        stored, existing = await self._history.create_run(
            run,
            node_ids=plan.order,
            preset_results=[],
            runner_id=self.runner_id,
            lease_seconds=self._lease_seconds,
        )
        if existing:
            return RunStream(Accepted(stored, existing=True), self._follow_stored(stored))
        executor = Executor(
            plan,
            self._registry,
            self._http,
            inputs=request.inputs,
            environment=request.environment,
            secrets=request.secrets,
            run_info=_run_info(stored),
            max_concurrency=request.max_concurrency or self._default_concurrency,
        )
        session = RunSession(
            stored,
            executor,
            self._history,
            runner_id=self.runner_id,
            redactor=redactor,
            lease_seconds=self._lease_seconds,
        )
        queue = session.follow()  # before the task starts, so the stream misses nothing
        self._sessions[stored.id] = session
        task = asyncio.create_task(self._execute(session), name=f"run-{stored.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return RunStream(Accepted(stored), _follow_session(session, queue))

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
            self._plans[key] = plan
            if len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        return plan

    async def _follow_stored(self, run: Run) -> AsyncIterator[StreamItem]:
        """Follow a run that another request started, through the history's event log."""
        async for event in self._history.watch_run(run.id):
            if event.kind == EventKind.NODE_STATUS:
                yield event
            elif event.kind == EventKind.RUN_FINISHED:
                yield Finished(await self._history.get_run(run.id), event.sequence)
                return


async def _follow_session(
    session: RunSession, queue: asyncio.Queue[StreamItem | object]
) -> AsyncIterator[StreamItem]:
    try:
        while True:
            item = await queue.get()
            if is_lost(item):
                raise UnavailableError(
                    f"run {session.run.id!r} can no longer be recorded: the history service is unreachable",
                    reason="RUN_NOT_RECORDED",
                    metadata={"run_id": session.run.id},
                )
            stream_item = cast(StreamItem, item)
            yield stream_item
            if isinstance(stream_item, Finished):
                return
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
