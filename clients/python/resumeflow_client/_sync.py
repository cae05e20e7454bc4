"""The blocking client: the async `Client` driven on a private event-loop thread.

Every call hands a coroutine of the async client to that loop and waits for it, so conversion,
error mapping, paging and reconnecting are the async client's own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from resumeflow.v1 import workflow_pb2
from resumeflow_client._client import Client
from resumeflow_client._config import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    RetryConfig,
)
from resumeflow_client._models import (
    AppliedWorkflow,
    Event,
    LatestFailed,
    LineageContext,
    ResumePlan,
    Run,
    RunAccepted,
    RunFinished,
    RunStatus,
    RunUpdate,
    Workflow,
)
from resumeflow_client._run import RunHandle
from resumeflow_client._watch import RunWatch

_T = TypeVar("_T")


class _LoopThread:
    """An event loop running forever in a daemon thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="resumeflow-client", daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run `coroutine` on the loop and wait for its result (or exception)."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt while waiting: do not leave the call running
            raise

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _next(iterator: AsyncIterator[_T]) -> _T:
    return await iterator.__anext__()


class SyncIterator(Generic[_T]):
    """A blocking iterator over one of the async client's async iterators."""

    def __init__(self, loop: _LoopThread, iterator: AsyncIterator[_T]) -> None:
        self._loop = loop
        self._iterator = iterator

    def __iter__(self) -> Iterator[_T]:
        return self

    def __next__(self) -> _T:
        try:
            return self._loop.call(_next(self._iterator))
        except StopAsyncIteration:
            raise StopIteration from None


class SyncRunWatch(SyncIterator[Event]):
    """The blocking form of `RunWatch`: iterate for events; reconnects like it."""

    def __init__(self, loop: _LoopThread, watch: RunWatch) -> None:
        super().__init__(loop, watch)
        self._watch = watch

    @property
    def last_sequence(self) -> int:
        return self._watch.last_sequence

    def close(self) -> None:
        """Stop following; the run itself goes on."""
        self._loop.call(self._watch.aclose())


class SyncRunHandle(SyncIterator[RunUpdate]):
    """The blocking form of `RunHandle`: iterate for updates, or call `result()` for the final run."""

    def __init__(self, loop: _LoopThread, handle: RunHandle) -> None:
        super().__init__(loop, handle)
        self._handle = handle

    @property
    def accepted(self) -> RunAccepted | None:
        return self._handle.accepted

    @property
    def finished(self) -> RunFinished | None:
        return self._handle.finished

    @property
    def run_id(self) -> str:
        return self._handle.run_id

    def start(self) -> RunAccepted:
        """Send the request and wait until the run is accepted; see `RunHandle.start`."""
        return self._loop.call(self._handle.start())

    def result(self) -> Run:
        """Read the remaining updates and return the run as stored at its end."""
        return self._loop.call(self._handle.result())

    def cancel(self) -> RunStatus:
        """Ask the runner to stop the run."""
        return self._loop.call(self._handle.cancel())

    def close(self) -> None:
        """Stop following; the run itself goes on."""
        self._loop.call(self._handle.aclose())


class SyncClient:
    """The blocking form of `Client`, with the same methods and errors.

    `with SyncClient.connect() as client: run = client.run("checkout").result()`
    """

    def __init__(self, loop: _LoopThread, client: Client) -> None:
        """Use `SyncClient.connect`."""
        self._loop = loop
        self._client = client

    @classmethod
    def connect(
        cls,
        runner_address: str = DEFAULT_RUNNER_ADDRESS,
        *,
        history_address: str = DEFAULT_HISTORY_ADDRESS,
        auth_token: str | None = None,
        tls: bool = False,
        tls_root_certificates: bytes | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryConfig | None = None,
    ) -> SyncClient:
        """Start the client's event-loop thread and open the channels; see `Client.connect`."""
        loop = _LoopThread()
        try:
            client = loop.call(
                Client.connect(
                    runner_address,
                    history_address=history_address,
                    auth_token=auth_token,
                    tls=tls,
                    tls_root_certificates=tls_root_certificates,
                    timeout=timeout,
                    retry=retry,
                )
            )
        except BaseException:
            loop.stop()
            raise
        return cls(loop, client)

    @property
    def async_client(self) -> Client:
        """The async client underneath; only usable on its own loop."""
        return self._client

    def close(self) -> None:
        """Close the channels and stop the event-loop thread."""
        try:
            self._loop.call(self._client.close())
        finally:
            self._loop.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def apply_workflow(self, workflow: workflow_pb2.Workflow | Mapping[str, Any]) -> AppliedWorkflow:
        """See `Client.apply_workflow`."""
        return self._loop.call(self._client.apply_workflow(workflow))

    def get_workflow(self, workflow_id: str, *, version: int = 0) -> Workflow:
        """See `Client.get_workflow`."""
        return self._loop.call(self._client.get_workflow(workflow_id, version=version))

    def list_workflows(self, *, page_size: int = 0) -> SyncIterator[Workflow]:
        """See `Client.list_workflows`."""
        return SyncIterator(self._loop, self._client.list_workflows(page_size=page_size))

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
    ) -> SyncRunHandle:
        """See `Client.run`."""
        handle = self._client.run(
            workflow_id,
            inputs=inputs,
            env_name=env_name,
            env=env,
            secrets=secrets,
            request_id=request_id,
            max_concurrency=max_concurrency,
        )
        return SyncRunHandle(self._loop, handle)

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
    ) -> SyncRunHandle:
        """See `Client.resume`."""
        handle = self._client.resume(
            workflow_id,
            node_id=node_id,
            all_failed=all_failed,
            from_run=from_run,
            secrets=secrets,
            env_name=env_name,
            env=env,
            rerun_changed_nodes=rerun_changed_nodes,
            pin_source_version=pin_source_version,
            plan_token=plan_token,
            request_id=request_id,
            max_concurrency=max_concurrency,
        )
        return SyncRunHandle(self._loop, handle)

    def cancel_run(self, run_id: str) -> RunStatus:
        """See `Client.cancel_run`."""
        return self._loop.call(self._client.cancel_run(run_id))

    def latest_failed(self, workflow_id: str) -> LatestFailed:
        """See `Client.latest_failed`."""
        return self._loop.call(self._client.latest_failed(workflow_id))

    def plan_resume(
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
        """See `Client.plan_resume`."""
        return self._loop.call(
            self._client.plan_resume(
                workflow_id,
                node_id=node_id,
                all_failed=all_failed,
                from_run=from_run,
                secret_names=secret_names,
                rerun_changed_nodes=rerun_changed_nodes,
                pin_source_version=pin_source_version,
            )
        )

    def lineage(self, run_id: str) -> LineageContext:
        """See `Client.lineage`."""
        return self._loop.call(self._client.lineage(run_id))

    def get_run(self, run_id: str) -> Run:
        """See `Client.get_run`."""
        return self._loop.call(self._client.get_run(run_id))

    def resolve_run_id(self, prefix: str) -> str:
        """See `Client.resolve_run_id`."""
        return self._loop.call(self._client.resolve_run_id(prefix))

    def list_runs(
        self, workflow_id: str = "", *, statuses: Sequence[RunStatus] = (), page_size: int = 0
    ) -> SyncIterator[Run]:
        """See `Client.list_runs`."""
        return SyncIterator(
            self._loop, self._client.list_runs(workflow_id, statuses=statuses, page_size=page_size)
        )

    def watch(self, run_id: str, *, after_sequence: int = 0) -> SyncRunWatch:
        """See `Client.watch`."""
        return SyncRunWatch(self._loop, self._client.watch(run_id, after_sequence=after_sequence))
