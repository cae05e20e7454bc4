"""The asynchronous client of Resumeflow's runner and history services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_client._config import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    RetryConfig,
)
from resumeflow_client._connection import Connection
from resumeflow_client._convert import dict_to_struct
from resumeflow_client._models import (
    AppliedWorkflow,
    LatestFailed,
    LineageContext,
    ResumeMode,
    ResumePlan,
    Run,
    RunStatus,
    Workflow,
)
from resumeflow_client._run import RunHandle
from resumeflow_client._watch import RunWatch
from resumeflow_client._workflow_file import workflow_from_mapping


class Client:
    """Runs, resumes and inspects workflows through the runner and history services.

    Create it with `await Client.connect(...)` inside the event loop that uses it, and close it with
    `await client.close()` or `async with`. Every method raises a `ResumeflowError` subclass, never a
    raw `grpc.RpcError`.
    """

    def __init__(self, connection: Connection) -> None:
        """Use `Client.connect`."""
        self._connection = connection

    @classmethod
    async def connect(
        cls,
        runner_address: str = DEFAULT_RUNNER_ADDRESS,
        *,
        history_address: str = DEFAULT_HISTORY_ADDRESS,
        auth_token: str | None = None,
        tls: bool = False,
        tls_root_certificates: bytes | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryConfig | None = None,
    ) -> Client:
        """Open channels to both services. Nothing is sent until the first call.

        Args:
            runner_address: HOST:PORT of the runner service.
            history_address: HOST:PORT of the history service.
            auth_token: Sent as `authorization: Bearer <token>` on every call; None sends nothing.
            tls: Use TLS, trusting the system's root certificates.
            tls_root_certificates: PEM roots to trust instead; implies `tls`.
            timeout: Seconds each unary call may take (None: no limit). Streams have no deadline.
            retry: How dropped streams are reopened; defaults to `RetryConfig()`.

        Returns:
            The connected client.
        """
        connection = Connection.open(
            runner_address,
            history_address,
            auth_token=auth_token,
            tls=tls,
            tls_root_certificates=tls_root_certificates,
            timeout=timeout,
            retry=retry or RetryConfig(),
        )
        return cls(connection)

    async def close(self) -> None:
        """Close the channels; open streams end."""
        await self._connection.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- workflows -----------------------------------------------------------------------------

    async def apply_workflow(self, workflow: workflow_pb2.Workflow | Mapping[str, Any]) -> AppliedWorkflow:
        """Store a workflow definition as its next version (unchanged when equal to the latest).

        Args:
            workflow: A `Workflow` message, e.g. from `load_workflow(path)`, or a mapping in the
                workflow file format.

        Returns:
            The stored workflow and whether it changed.

        Raises:
            WorkflowFileError: A mapping is malformed (every problem listed).
            InvalidArgumentError: The graph is invalid (reason `INVALID_WORKFLOW`, every problem listed).
        """
        message = workflow if isinstance(workflow, workflow_pb2.Workflow) else workflow_from_mapping(workflow)
        response = await self._connection.unary(
            self._connection.history.PutWorkflow, hpb.PutWorkflowRequest(workflow=message)
        )
        return AppliedWorkflow._from_proto(response)

    async def get_workflow(self, workflow_id: str, *, version: int = 0) -> Workflow:
        """A workflow, its latest version unless `version` names another.

        Raises:
            NotFoundError: No such workflow or version (reason `WORKFLOW_NOT_FOUND`).
        """
        response = await self._connection.unary(
            self._connection.history.GetWorkflow,
            hpb.GetWorkflowRequest(workflow_id=workflow_id, version=version),
        )
        return Workflow._from_proto(response.workflow)

    async def list_workflows(self, *, page_size: int = 0) -> AsyncIterator[Workflow]:
        """Every workflow's latest version, ordered by id, fetched a page at a time.

        Args:
            page_size: Workflows per request; 0 means the server's default.
        """
        token = ""
        while True:
            response = await self._connection.unary(
                self._connection.history.ListWorkflows,
                hpb.ListWorkflowsRequest(page_size=page_size, page_token=token),
            )
            for workflow in response.workflows:
                yield Workflow._from_proto(workflow)
            token = response.next_page_token
            if not token:
                return

    # --- running -------------------------------------------------------------------------------

    def run(
        self,
        workflow_id: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        env_name: str = "",
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        request_id: str = "",
        max_concurrency: int = 0,
    ) -> RunHandle:
        """Run a workflow's latest version from the start.

        The request is sent when the handle is first iterated or awaited:
        `run = await client.run("checkout", inputs={"user": "ada"})`.

        Args:
            workflow_id: The workflow.
            inputs: Initial variables, seen as `vars` (JSON-compatible values).
            env_name: The environment's name, such as `staging`.
            env: Non-secret environment values, seen as `env`; stored with the run.
            secrets: Runtime secrets, seen as `secrets`; never stored, redacted everywhere.
            request_id: An idempotency key: the same key returns the same run.
            max_concurrency: The most nodes that execute at once; 0 means the server's default.

        Returns:
            A handle to iterate for updates or await for the final run.

        Raises:
            ValueError: `inputs` holds a value that is not JSON-compatible.
        """
        return RunHandle(
            self._connection,
            _run_request(workflow_id, inputs, env_name, env, secrets, request_id, max_concurrency),
        )

    def resume(
        self,
        workflow_id: str,
        *,
        node_id: str | None = None,
        all_failed: bool = False,
        from_run: str | None = None,
        secrets: Mapping[str, str] | None = None,
        env_name: str = "",
        env: Mapping[str, str] | None = None,
        rerun_changed_nodes: bool = False,
        pin_source_version: bool = False,
        plan_token: str = "",
        request_id: str = "",
        max_concurrency: int = 0,
    ) -> RunHandle:
        """Resume a failed run from one or all of its failed nodes, reusing every other result.

        With neither `node_id` nor `all_failed` this re-runs the source run's first failed node.

        Args:
            workflow_id: The workflow.
            node_id: Re-run from this node only (SINGLE mode).
            all_failed: Re-run from every failed node of the source run (ALL_FAILED mode).
            from_run: The run to resume; None means the workflow's latest unresolved failed run.
            secrets: The runtime secrets the re-run nodes need; they must be given again.
            env_name: Overrides the source run's environment name.
            env: Environment values overriding the source run's snapshot.
            rerun_changed_nodes: Re-run reused upstream nodes whose definition changed instead of
                being rejected with `WORKFLOW_DRIFT`.
            pin_source_version: Run the source run's workflow version instead of the latest.
            plan_token: A `ResumePlan.plan_token`: run exactly that plan or fail with `PLAN_STALE`.
            request_id: An idempotency key.
            max_concurrency: The most nodes that execute at once; 0 means the server's default.

        Returns:
            A handle to iterate for updates or await for the final run. A rejected resume raises from
            its first iteration: `NoFailedRunError`, `MissingSecretsError`, `ResumeInProgressError`,
            `InvalidArgumentError` (bad start node, every problem listed), `FailedPreconditionError`.

        Raises:
            ValueError: Both `node_id` and `all_failed` are given.
        """
        request = _run_request(workflow_id, None, env_name, env, secrets, request_id, max_concurrency)
        request.resume.CopyFrom(
            _resume_spec(node_id, all_failed, from_run, rerun_changed_nodes, pin_source_version, plan_token)
        )
        return RunHandle(self._connection, request)

    async def cancel_run(self, run_id: str) -> RunStatus:
        """Ask the runner to stop a run; its unfinished nodes become CANCELLED.

        Returns:
            The run's status when the request was handled.

        Raises:
            NotFoundError: No such run.
            FailedPreconditionError: The run already finished (reason `RUN_FINISHED`).
        """
        response = await self._connection.unary(
            self._connection.runner.CancelRun, rpb.CancelRunRequest(run_id=run_id)
        )
        return RunStatus(response.status)

    # --- resuming ------------------------------------------------------------------------------

    async def latest_failed(self, workflow_id: str) -> LatestFailed:
        """The workflow's latest unresolved failed run, the one `resume` picks by default.

        Raises:
            NoFailedRunError: Nothing to resume.
            NotFoundError: No such workflow.
        """
        response = await self._connection.unary(
            self._connection.history.GetLatestFailed, hpb.GetLatestFailedRequest(workflow_id=workflow_id)
        )
        return LatestFailed._from_proto(response)

    async def plan_resume(
        self,
        workflow_id: str,
        *,
        node_id: str | None = None,
        all_failed: bool = False,
        from_run: str | None = None,
        secret_names: Iterable[str] = (),
        rerun_changed_nodes: bool = False,
        pin_source_version: bool = False,
    ) -> ResumePlan:
        """What `resume` with the same arguments would do, without running anything.

        Args:
            workflow_id, node_id, all_failed, from_run, rerun_changed_nodes, pin_source_version: As
                for `resume`.
            secret_names: The names of the secrets the real resume would be given.

        Returns:
            Every node's fate (re-run, restored from run X, carried failure, blocked, skipped) with a
            reason, the problems a real resume would be rejected for, and a `plan_token`.

        Raises:
            NoFailedRunError: Nothing to resume.
            ValueError: Both `node_id` and `all_failed` are given.
        """
        request = rpb.PlanResumeRequest(
            workflow_id=workflow_id,
            resume=_resume_spec(node_id, all_failed, from_run, rerun_changed_nodes, pin_source_version, ""),
            secret_names=list(secret_names),
        )
        response = await self._connection.unary(self._connection.runner.PlanResume, request)
        return ResumePlan._from_proto(response)

    async def lineage(self, run_id: str) -> LineageContext:
        """A run's lineage (root last) and each node's effective result with the run that produced it."""
        response = await self._connection.unary(
            self._connection.history.GetLineageContext, hpb.GetLineageContextRequest(run_id=run_id)
        )
        return LineageContext._from_proto(response)

    # --- history -------------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> Run:
        """A run with its node results.

        Raises:
            NotFoundError: No such run (reason `RUN_NOT_FOUND`).
        """
        response = await self._connection.unary(
            self._connection.history.GetRun, hpb.GetRunRequest(run_id=run_id)
        )
        return Run._from_proto(response.run)

    async def resolve_run_id(self, prefix: str) -> str:
        """The full id of the one run whose id starts with `prefix` (at least 6 characters).

        Raises:
            NotFoundError: No run id starts with it (reason `RUN_NOT_FOUND`).
            InvalidArgumentError: The prefix is too short, or names several runs (reason
                `AMBIGUOUS_RUN_ID`, `metadata["candidates"]` lists them).
        """
        response = await self._connection.unary(
            self._connection.history.ResolveRunId, hpb.ResolveRunIdRequest(prefix=prefix)
        )
        return str(response.run_id)

    async def list_runs(
        self,
        workflow_id: str = "",
        *,
        statuses: Sequence[RunStatus] = (),
        page_size: int = 0,
    ) -> AsyncIterator[Run]:
        """Runs, newest first, without node results, fetched a page at a time.

        Args:
            workflow_id: Only this workflow's runs; empty means every workflow.
            statuses: Only runs in one of these statuses; empty means any.
            page_size: Runs per request; 0 means the server's default.
        """
        token = ""
        while True:
            request = hpb.ListRunsRequest(
                workflow_id=workflow_id,
                statuses=[int(status) for status in statuses],  # type: ignore[misc]
                page_size=page_size,
                page_token=token,
            )
            response = await self._connection.unary(self._connection.history.ListRuns, request)
            for run in response.runs:
                yield Run._from_proto(run)
            token = response.next_page_token
            if not token:
                return

    def watch(self, run_id: str, *, after_sequence: int = 0) -> RunWatch:
        """Follow a run's events after `after_sequence`: the stored ones, then live ones until it finishes.

        The iterator reconnects after a dropped stream from the last event it yielded, so events
        come out gapless and never twice: `async for event in client.watch(run_id): ...`.

        Args:
            run_id: The run.
            after_sequence: Only events with a greater sequence; 0 means from the start.

        Raises:
            NotFoundError: From the first iteration, when there is no such run.
            UnavailableError: When the history service stays unreachable through every reconnect.
        """
        return RunWatch(self._connection, run_id, after_sequence)


def _run_request(
    workflow_id: str,
    inputs: Mapping[str, Any] | None,
    env_name: str,
    env: Mapping[str, str] | None,
    secrets: Mapping[str, str] | None,
    request_id: str,
    max_concurrency: int,
) -> rpb.RunWorkflowRequest:
    return rpb.RunWorkflowRequest(
        workflow_id=workflow_id,
        inputs=dict_to_struct(inputs),
        environment=run_pb2.Environment(name=env_name, values=dict(env or {})),
        secrets=dict(secrets or {}),
        request_id=request_id,
        max_concurrency=max_concurrency,
    )


def _resume_spec(
    node_id: str | None,
    all_failed: bool,
    from_run: str | None,
    rerun_changed_nodes: bool,
    pin_source_version: bool,
    plan_token: str,
) -> run_pb2.ResumeSpec:
    if node_id is not None and all_failed:
        raise ValueError("give either node_id (one failed node) or all_failed, not both")
    mode = ResumeMode.ALL_FAILED if all_failed else ResumeMode.SINGLE
    return run_pb2.ResumeSpec(
        source_run_id=from_run or "",
        mode=int(mode),  # type: ignore[arg-type]
        start_node_ids=[node_id] if node_id is not None else [],
        rerun_changed_nodes=rerun_changed_nodes,
        pin_source_version=pin_source_version,
        plan_token=plan_token,
    )
