"""Executes one run: feeds the state machine, runs nodes as bounded asyncio tasks, yields every transition."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx

from resumeflow_core.limits import DEFAULT_MAX_NODE_OUTPUT_BYTES, serialized_size
from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.reasons import (
    DESTINATION_DENIED,
    INVALID_CONFIG,
    NODE_ERROR,
    OUTPUT_TOO_LARGE,
    RUNNER_SHUTDOWN,
    TEMPLATE_ERROR,
    TEMPLATE_LIMIT,
    TIMEOUT,
    UNKNOWN_NODE_TYPE,
)
from resumeflow_core.records import NodeError, NodeResult
from resumeflow_core.status import NodeStatus, RunStatus
from resumeflow_core.templates import UNSET, TemplateContext, TemplateError, TemplateLimitError, render
from resumeflow_core.workflow import Node, RetryPolicy
from runner_service.engine.plan import ExecutionPlan
from runner_service.engine.redaction import Redactor
from runner_service.engine.state import RunState, Transition

DEFAULT_MAX_CONCURRENCY = 16
"""Node attempts of one run that may be in flight at once."""

INLINE_SLICE = 100
"""Inline nodes run between two yields to the event loop, at most."""

INLINE_SLICE_SECONDS = 0.01
"""Inline nodes start one after another for at most this long before the loop gets a turn."""

SHORT_RUN_NODES = 20
"""A run of at most this many nodes is short: its inline nodes end about as soon as one more
write to the history would, so its first events wait for the write of its end."""
NOT_RETRIED = frozenset(
    {TEMPLATE_ERROR, TEMPLATE_LIMIT, UNKNOWN_NODE_TYPE, INVALID_CONFIG, DESTINATION_DENIED, OUTPUT_TOO_LARGE}
)
"""Failure codes no further attempt can fix: the node's definition is wrong, the runner's
destination policy refuses it, or its output is too large (it would be as large again, and its
request repeated for nothing)."""

_NO_RETRY = RetryPolicy()
_NOT_STARTED = NodeError(RUNNER_SHUTDOWN, "not started: the runner was shutting down")


@dataclass(frozen=True)
class NodeTransition:
    """One node entering a status, as the run reports it; every field already redacted."""

    node_id: str
    status: NodeStatus
    attempt: int = 0
    """For RUNNING, the attempt starting (from 1); for terminal statuses, the attempts made."""
    message: str = ""
    result: NodeResult | None = None
    """The node's result, for terminal statuses."""


class Executor:
    """Runs one run of a plan to the end; iterate `run()` to drive it.

    Node code runs inside one boundary (`_attempt`): whatever a node raises becomes a FAILED
    result, so nothing a node does breaks the loop. A failure never stops other branches.
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        registry: NodeTypeRegistry,
        http_client: httpx.AsyncClient,
        *,
        inputs: Mapping[str, Any],
        environment: Mapping[str, Any],
        secrets: Mapping[str, Any],
        run_info: Mapping[str, Any],
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        preset: Mapping[str, NodeResult] | None = None,
        initial_variables: Mapping[str, Any] | None = None,
        redactor: Redactor | None = None,
        http_settings: HttpSettings | None = None,
        max_output_bytes: int = DEFAULT_MAX_NODE_OUTPUT_BYTES,
    ) -> None:
        """Prepare one run; nothing executes before `run()` is iterated.

        Args:
            plan: The plan of the workflow.
            registry: Node types by name.
            http_client: The client `http` nodes share.
            inputs: The run's inputs; the initial variables unless `initial_variables` is given.
            environment: Non-secret values, `env` in templates.
            secrets: Runtime secrets, `secrets` in templates; masked in everything reported.
            run_info: `run` in templates: id, workflow_id, workflow_version, root_run_id,
                lineage_depth.
            max_concurrency: Node attempts that may be in flight at once (at least 1).
            preset: Results of nodes terminal before the run starts (resume); they produce no
                transitions, and their outputs are visible to templates.
            initial_variables: Variables to start from (resume: rebuilt from the lineage).
            redactor: The run's redactor of `secrets`, when the caller has built it already.
            http_settings: The runner's http settings, handed to every node call.
            max_output_bytes: The most a node's output and written variables may take, serialized
                as stored (secrets masked); a node beyond it fails OUTPUT_TOO_LARGE.
        """
        preset = preset or {}
        self._plan = plan
        self._registry = registry
        self._http = http_client
        self._http_settings = http_settings or HttpSettings()
        self._redactor = redactor or Redactor(secrets.values())
        self._semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self._max_output_bytes = max_output_bytes
        # The context owns these dicts; the executor then adds outputs and variables in place.
        self._context = TemplateContext(
            vars=dict(inputs if initial_variables is None else initial_variables),
            env=dict(environment),
            secrets=dict(secrets),
            nodes={node_id: r.output for node_id, r in preset.items() if r.status.is_success},
            run=dict(run_info),
        )
        self._state = RunState(plan, preset)
        self._tasks: dict[str, asyncio.Task[tuple[NodeResult, str | None]]] = {}
        self._attempts: dict[str, tuple[int, datetime]] = {}
        self._outbox: deque[NodeTransition] = deque()
        self._pending: deque[str] = deque()
        """Nodes handed out by the state machine and not started yet."""
        self._wakeup = asyncio.Event()
        self._started = False
        self._sliced = False
        """A first slice of inline nodes ran."""
        self._cancelled = False
        self._draining = False
        """Shutting down: no node starts any more; the unstarted ones fail RUNNER_SHUTDOWN."""
        self._interrupted = False
        """The shutdown grace passed: the nodes still in flight fail RUNNER_SHUTDOWN."""
        self._automatic(self._state.initial_transitions)

    @property
    def is_long(self) -> bool:
        """Whether the run has more than SHORT_RUN_NODES nodes."""
        return len(self._plan.order) > SHORT_RUN_NODES

    # --- public API --------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[NodeTransition]:
        """Execute the run, yielding every node transition in the order it happens.

        Ends when every node is terminal. Closing the iterator early cancels the nodes in flight.

        Raises:
            RuntimeError: The executor already ran.
        """
        if self._started:
            raise RuntimeError("an Executor runs once")
        self._started = True
        try:
            while True:
                await self._dispatch()
                while self._outbox:
                    yield self._outbox.popleft()
                if self._state.is_finished:
                    return
                if self._pending or self._state.has_ready():
                    await asyncio.sleep(0)  # a slice of inline nodes ran: let the writers work
                else:
                    await self._wakeup.wait()
                    self._wakeup.clear()
        finally:
            await self._abandon()

    def cancel(self) -> None:
        """Stop the run: nodes in flight are cancelled, nodes not started become CANCELLED.

        Safe to call at any time, more than once, before or after `run()`.
        """
        if self._cancelled or self._state.is_finished:
            return
        self._cancelled = True
        self._automatic(self._state.cancel_all())
        while self._pending:  # handed out by the state machine but never started
            self._record(self._finished(self._pending.popleft(), NodeStatus.CANCELLED), None)
        for task in self._tasks.values():
            task.cancel()
        self._wakeup.set()

    def drain(self) -> None:
        """The runner is shutting down: start no further node or attempt, let the ones in flight
        finish, and fail every node that did not start with RUNNER_SHUTDOWN (what follows it is
        BLOCKED, so the run ends FAILED and a resume re-runs them). Safe to call at any time."""
        if self._draining or self._state.is_finished:
            return
        self._draining = True
        self._wakeup.set()

    def interrupt(self) -> None:
        """The shutdown grace passed: stop the nodes still in flight and fail them RUNNER_SHUTDOWN
        (a run cancelled by its user stays CANCELLED). Implies `drain`."""
        self.drain()
        if self._interrupted or self._state.is_finished:
            return
        self._interrupted = True
        for task in self._tasks.values():
            task.cancel()
        self._wakeup.set()

    @property
    def status(self) -> RunStatus:
        """The run's status: RUNNING until every node is terminal."""
        if not self._state.is_finished:
            return RunStatus.RUNNING if self._started else RunStatus.QUEUED
        return self._state.run_status()

    @property
    def failed_node_ids(self) -> list[str]:
        """FAILED nodes, carried failures included, in plan order."""
        return self._state.failed_node_ids()

    @property
    def variables(self) -> dict[str, Any]:
        """The run's variables so far, secrets masked."""
        return self._redactor.redact(dict(self._context.vars))  # type: ignore[no-any-return]

    # --- scheduling --------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Start ready nodes: trivial ones right here, the others as tasks.

        Inline nodes never suspend, so at most INLINE_SLICE of them run per call: the caller
        hands out their transitions and yields to the event loop before the next slice, which
        lets the run's events reach the history and the streams while a long chain runs.
        """
        if self._draining:
            self._fail_unstarted()
            return
        inline = 0
        until = time.monotonic() + INLINE_SLICE_SECONDS
        # A long run starts with a slice of one node: its RUNNING event is written and streamed
        # at once, not after a hundred more. A short run's events go with its end in one write.
        limit = 1 if not self._sliced and self.is_long else INLINE_SLICE
        self._sliced = True
        while inline < limit and (inline == 0 or time.monotonic() < until):
            if not self._pending:
                self._pending.extend(self._state.ready())
                if not self._pending:
                    return
            node_id = self._pending.popleft()
            if self._runs_inline(node_id):
                result, branch = await self._execute(node_id, bounded=False)
                self._record(result, branch)
                inline += 1
            else:
                self._spawn(node_id)

    def _fail_unstarted(self) -> None:
        """While draining: every node that could start fails instead; its descendants are BLOCKED."""
        self._pending.extend(self._state.ready())
        while self._pending:
            self._record(self._finished(self._pending.popleft(), NodeStatus.FAILED, _NOT_STARTED), None)

    def _runs_inline(self, node_id: str) -> bool:
        # Inline nodes skip the task and the semaphore. A retried node sleeps between
        # attempts and a timeout needs a task to cancel, so those always get a task.
        node = self._plan.nodes[node_id]
        node_type = self._registry.get(node.type)
        return (
            node_type is not None
            and node_type.inline
            and node.timeout is None
            and (node.retry is None or node.retry.max_attempts <= 1)
        )

    def _spawn(self, node_id: str) -> None:
        task = asyncio.create_task(self._execute(node_id, bounded=True), name=f"node-{node_id}")
        self._tasks[node_id] = task
        task.add_done_callback(partial(self._task_done, node_id))

    def _task_done(self, node_id: str, task: asyncio.Task[tuple[NodeResult, str | None]]) -> None:
        del self._tasks[node_id]
        if task.cancelled():
            if self._interrupted and not self._cancelled:
                attempt = self._attempts.get(node_id, (0, None))[0]
                why = NodeError(RUNNER_SHUTDOWN, f"the runner shut down during attempt {attempt}")
                self._record(
                    self._finished(node_id, NodeStatus.FAILED, why if attempt else _NOT_STARTED), None
                )
            else:
                self._record(self._finished(node_id, NodeStatus.CANCELLED), None)
            return
        error = task.exception()
        if error is None:
            self._record(*task.result())
            return
        # A bug outside the boundary (in the engine itself): still a clean node failure.
        failure = NodeError(NODE_ERROR, self._describe(error))
        self._record(self._finished(node_id, NodeStatus.FAILED, failure), None)

    async def _abandon(self) -> None:
        """Cancel and await the tasks still in flight (the consumer stopped iterating)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- one node ----------------------------------------------------------------------------

    async def _execute(self, node_id: str, *, bounded: bool) -> tuple[NodeResult, str | None]:
        """Every attempt of one node, with backoff between them; returns its result and branch."""
        node = self._plan.nodes[node_id]
        policy = node.retry or _NO_RETRY
        attempts = max(1, policy.max_attempts)
        prev = self._prev(node_id)
        note = ""
        failure = _NOT_STARTED
        for attempt in range(1, attempts + 1):
            context = self._context.with_prev(prev)  # each attempt: a fresh template time budget
            async with self._semaphore if bounded else contextlib.nullcontext():
                if self._draining:  # the runner is shutting down: no attempt starts any more
                    return self._finished(node_id, NodeStatus.FAILED, failure), None
                self._running(node_id, attempt, note)
                outcome = _storable(await self._attempt(node, attempt, context))
            if isinstance(outcome, NodeOutcome):
                return self._finished(node_id, NodeStatus.SUCCEEDED, outcome=outcome), outcome.branch
            failure = outcome
            if attempt == attempts or outcome.code in NOT_RETRIED or self._draining:
                return self._finished(node_id, NodeStatus.FAILED, outcome), None
            note = f"retrying after {outcome.code}: {outcome.message}"
            await asyncio.sleep(policy.backoff(attempt))
        raise AssertionError("unreachable: the last attempt returns")

    async def _attempt(self, node: Node, attempt: int, context: TemplateContext) -> NodeOutcome | NodeError:
        """Run one attempt inside the failure boundary; only cancellation gets through.

        Failure kinds: (1) NodeFailure, the node's own verdict → its code (also
        OUTPUT_TOO_LARGE: the result as stored would exceed the size limit); (2) a template that
        does not render → TEMPLATE_ERROR, or goes over a limit → TEMPLATE_LIMIT; (3) the attempt
        outlived `node.timeout` → TIMEOUT;
        (4) any other exception → NODE_ERROR with the exception's type and message.
        """
        deadline = asyncio.timeout(node.timeout) if node.timeout else None
        try:
            node_type = self._node_type(node)
            call = self._call(node, node_type, attempt, context)
            if deadline is None:
                outcome = await node_type.execute(call)
            else:
                async with deadline:
                    outcome = await node_type.execute(call)
            if not isinstance(outcome, NodeOutcome):
                raise TypeError(f"execute() returned {type(outcome).__name__}, not NodeOutcome")
            self._check_size(outcome)
            return outcome
        except NodeFailure as failure:  # case (1)
            return NodeError(failure.code, failure.message)
        except TemplateLimitError as error:  # case (2)
            return NodeError(TEMPLATE_LIMIT, str(error))
        except TemplateError as error:  # case (2)
            return NodeError(TEMPLATE_ERROR, str(error))
        except TimeoutError as error:
            if deadline is not None and deadline.expired():  # case (3)
                return NodeError(TIMEOUT, f"attempt {attempt} timed out after {node.timeout:g} s")
            # case (4): a TimeoutError of the node's own
            return NodeError(NODE_ERROR, self._describe(error))
        except Exception as error:  # noqa: BLE001 - case (4): the boundary catches all by design
            return NodeError(NODE_ERROR, self._describe(error))

    def _describe(self, error: BaseException) -> str:
        """An unexpected exception's type and text; in a run with secrets, its type alone.

        The text may quote any value the node handled, and a value built from a secret is masked
        only while it holds the whole secret in a known encoding (a prefix or a changed case is not).
        """
        if self._redactor.active:
            return f"{type(error).__name__} (details withheld: the run has secrets)"
        return _describe(error)

    def _check_size(self, outcome: NodeOutcome) -> None:
        """Raises NodeFailure OUTPUT_TOO_LARGE when the result, as it would be stored, is over the
        limit: one node must not make its run unrecordable."""
        if outcome.output is None and not outcome.variables:
            return
        stored = self._redactor.redact((outcome.output, outcome.variables))
        size = serialized_size(stored[0]) + serialized_size(stored[1])
        if size > self._max_output_bytes:
            raise NodeFailure(
                OUTPUT_TOO_LARGE,
                f"the output and variables are {size:,} bytes serialized, "
                f"over the limit of {self._max_output_bytes:,} bytes (--max-node-output-bytes)",
            )

    def _node_type(self, node: Node) -> NodeType:
        node_type = self._registry.get(node.type)
        if node_type is None:
            raise NodeFailure(UNKNOWN_NODE_TYPE, f"no node type {node.type!r} on this runner")
        return node_type

    def _call(self, node: Node, node_type: NodeType, attempt: int, context: TemplateContext) -> NodeCall:
        """The attempt's call, with every config template rendered except the type's late keys."""
        config: dict[str, Any] = {}
        if node.config:
            late = node_type.late_keys
            config = render(
                {key: value for key, value in node.config.items() if key not in late},
                context,
            )
            config.update((key, node.config[key]) for key in late if key in node.config)
        return NodeCall(
            node=node,
            config=config,
            attempt=attempt,
            context=context,
            http=self._http,
            http_settings=self._http_settings,
        )

    def _prev(self, node_id: str) -> Any:
        taken = self._state.taken_parents(node_id)
        return self._context.nodes.get(taken[0]) if len(taken) == 1 else UNSET

    # --- bookkeeping -------------------------------------------------------------------------

    def _running(self, node_id: str, attempt: int, note: str) -> None:
        started = self._attempts[node_id][1] if node_id in self._attempts else _now()
        self._attempts[node_id] = (attempt, started)
        self._state.mark_running(node_id, attempt)
        self._emit(NodeTransition(node_id, NodeStatus.RUNNING, attempt, note))

    def _finished(
        self,
        node_id: str,
        status: NodeStatus,
        error: NodeError | None = None,
        *,
        outcome: NodeOutcome | None = None,
    ) -> NodeResult:
        attempts, started = self._attempts.get(node_id, (0, None))
        return NodeResult(
            node_id=node_id,
            status=status,
            attempts=attempts,
            start_time=started,
            end_time=_now(),
            output=None if outcome is None else outcome.output,
            variables={} if outcome is None else dict(outcome.variables),
            error=error,
        )

    def _record(self, result: NodeResult, branch: str | None) -> None:
        """Feed a finished node to the state machine and report it and what it caused."""
        node_id = result.node_id
        if self._state.status(node_id).is_terminal:
            return  # a task cancelled after its node was settled: nothing new to report
        if result.status is NodeStatus.SUCCEEDED:
            self._context.nodes[node_id] = result.output
            self._context.vars.update(result.variables)
            changes = self._state.mark_succeeded(node_id, branch)
        elif result.status is NodeStatus.FAILED:
            changes = self._state.mark_failed(node_id)
        else:
            changes = self._state.mark_cancelled(node_id)
        message = "" if result.error is None else f"{result.error.code}: {result.error.message}"
        if result.status is NodeStatus.CANCELLED:
            message = "cancelled: the run was cancelled"
        self._emit(NodeTransition(node_id, result.status, result.attempts, message, result))
        self._automatic(changes)

    def _automatic(self, changes: list[Transition] | tuple[Transition, ...]) -> None:
        for node_id, status in changes:
            now = _now()
            result = NodeResult(node_id=node_id, status=status, start_time=now, end_time=now)
            self._emit(NodeTransition(node_id, status, 0, self._why(node_id, status), result))

    def _why(self, node_id: str, status: NodeStatus) -> str:
        if status is NodeStatus.SKIPPED:
            return "skipped: no path into the node was taken"
        if status is NodeStatus.BLOCKED:
            parents = self._plan.parents[node_id]
            culprits = [
                p for p in parents if self._state.status(p) in (NodeStatus.FAILED, NodeStatus.BLOCKED)
            ]
            return "blocked by " + ", ".join(f"{p} ({self._state.status(p).name})" for p in culprits)
        return "cancelled: the run was cancelled"

    def _emit(self, transition: NodeTransition) -> None:
        self._outbox.append(self._redact(transition))
        self._wakeup.set()  # the loop may be waiting: a task's RUNNING must stream at once

    def _redact(self, transition: NodeTransition) -> NodeTransition:
        redactor = self._redactor
        if not redactor.active:
            return transition
        result = transition.result
        if result is not None:
            error = result.error
            result = replace(
                result,
                output=redactor.redact(result.output),
                variables=redactor.redact(result.variables),
                error=None if error is None else NodeError(error.code, redactor.text(error.message)),
            )
        return replace(transition, message=redactor.text(transition.message), result=result)


def _now() -> datetime:
    return datetime.now(UTC)


def _storable(outcome: NodeOutcome | NodeError) -> NodeOutcome | NodeError:
    """A failure's message without NUL, which no database text column takes (the history refuses
    it): a message may quote a response body or an expression."""
    if isinstance(outcome, NodeError) and "\x00" in outcome.message:
        return NodeError(outcome.code, outcome.message.replace("\x00", "\N{REPLACEMENT CHARACTER}"))
    return outcome


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
