"""A started run: iterate it for updates, await it for the final run."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import runner_service_pb2 as rpb
from resumeflow_client._connection import Connection
from resumeflow_client._errors import InternalError, ResumeflowError, from_rpc_error
from resumeflow_client._models import Event, EventKind, Run, RunAccepted, RunFinished, RunStatus, RunUpdate
from resumeflow_client._watch import RunWatch, is_dropped_stream


class RunHandle:
    """A run (or resume) request and the stream of its updates.

    The request is sent when the handle is first iterated or awaited. Iterating yields `RunAccepted`
    first, then node-status `Event`s, then `RunFinished`; awaiting reads to the end and returns the
    final `Run`. A rejected request raises its `ResumeflowError` (such as `MissingSecretsError`) from
    the first iteration or the await.

    Leaving the stream does not cancel the run; `cancel()` does. When the runner's stream drops
    after the run was accepted, the handle follows the run through the history service from the
    last event it yielded, so no update is lost or repeated.
    """

    def __init__(self, connection: Connection, request: rpb.RunWorkflowRequest) -> None:
        self._connection = connection
        self._request = request
        self._call: Any = None
        self._watch: RunWatch | None = None
        self._accepted: RunAccepted | None = None
        self._finished: RunFinished | None = None
        self._last_sequence = 0
        self._unread: RunAccepted | None = None  # read by start(), not yet yielded
        self._pending: deque[Event] = deque()  # the rest of a batch of events, yielded one at a time

    @property
    def request(self) -> rpb.RunWorkflowRequest:
        """The request this handle sends (secrets included: do not log it)."""
        return self._request

    @property
    def accepted(self) -> RunAccepted | None:
        """The first update, once it arrived."""
        return self._accepted

    @property
    def finished(self) -> RunFinished | None:
        """The last update, once it arrived."""
        return self._finished

    @property
    def run_id(self) -> str:
        """The run's id, once accepted; empty before."""
        return self._accepted.run.id if self._accepted else ""

    def __aiter__(self) -> RunHandle:
        return self

    async def __anext__(self) -> RunUpdate:
        if self._unread is not None:
            accepted, self._unread = self._unread, None
            return accepted
        while self._finished is None:
            update = await self._next()
            if update is not None:
                return update
        raise StopAsyncIteration

    async def start(self) -> RunAccepted:
        """Send the request (if not yet sent) and wait until the run is accepted.

        Iterating the handle afterwards still yields this `RunAccepted` first.

        Raises:
            ResumeflowError: The request was rejected, e.g. `MissingSecretsError` for a resume.
        """
        if self._accepted is not None:
            return self._accepted
        update = await self.__anext__()
        if not isinstance(update, RunAccepted):
            raise InternalError("the runner did not answer with RunAccepted first")
        self._unread = update
        return update

    async def result(self) -> Run:
        """Read the remaining updates and return the run as stored at its end (without node results).

        Raises:
            ResumeflowError: The request was rejected, or the run could not be followed.
        """
        async for _ in self:
            pass
        assert self._finished is not None
        return self._finished.run

    def __await__(self) -> Generator[Any, None, Run]:
        return self.result().__await__()

    async def cancel(self) -> RunStatus:
        """Ask the runner to stop the run; its unfinished nodes become CANCELLED.

        Returns:
            The run's status when the request was handled.

        Raises:
            FailedPreconditionError: The run already finished (reason `RUN_FINISHED`).
        """
        await self.start()
        response = await self._connection.unary(
            self._connection.runner.CancelRun, rpb.CancelRunRequest(run_id=self.run_id)
        )
        return RunStatus(response.status)

    async def aclose(self) -> None:
        """Stop following the run; the run itself goes on."""
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if self._watch is not None:
            await self._watch.aclose()

    async def _next(self) -> RunUpdate | None:
        """The next update, or None when a message was skipped or the source switched."""
        if self._pending:
            return self._event(self._pending.popleft())
        if self._watch is not None:
            return await self._next_from_history(self._watch)
        if self._call is None:
            self._call = self._connection.stream(self._connection.runner.RunWorkflow, self._request)
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            error = from_rpc_error(exc)
            if not self._can_follow_elsewhere(error):
                self._call = None
                raise error from exc
            self._follow_history()
            return None
        if message is grpc.aio.EOF:
            if self._accepted is None:
                raise InternalError("the runner closed the stream without accepting the run")
            self._follow_history()
            return None
        return self._from_runner(message)

    def _from_runner(self, message: rpb.RunWorkflowResponse) -> RunUpdate | None:
        payload = message.WhichOneof("payload")
        if payload == "accepted":
            self._accepted = RunAccepted._from_proto(message.accepted)
            return self._accepted
        if payload == "events":
            self._pending.extend(Event._from_proto(event) for event in message.events.events)
            return None
        if payload == "finished":
            self._finished = RunFinished._from_proto(message.finished)
            self._call = None
            return self._finished
        return None  # a payload a newer server added

    def _event(self, event: Event) -> Event | None:
        if event.sequence <= self._last_sequence:
            return None
        self._last_sequence = event.sequence
        return event

    def _can_follow_elsewhere(self, error: ResumeflowError) -> bool:
        # Only a cut connection: an UNAVAILABLE the runner states itself (RUN_NOT_RECORDED) is final.
        return self._accepted is not None and not error.domain and is_dropped_stream(error)

    def _follow_history(self) -> None:
        self._call = None
        self._watch = RunWatch(self._connection, self.run_id, self._last_sequence)

    async def _next_from_history(self, watch: RunWatch) -> RunUpdate | None:
        try:
            event = await watch.__anext__()
        except StopAsyncIteration:
            raise InternalError(f"the event log of run {self.run_id!r} ended without RUN_FINISHED") from None
        if event.kind == EventKind.NODE_STATUS:
            return self._event(event)
        if event.kind != EventKind.RUN_FINISHED:
            return None
        response = await self._connection.unary(
            self._connection.history.GetRun, hpb.GetRunRequest(run_id=self.run_id)
        )
        response.run.ClearField("node_results")
        self._finished = RunFinished._from_proto(rpb.RunFinished(run=response.run, sequence=event.sequence))
        return self._finished
