"""Following a run's event log, reconnecting after a dropped stream without a gap or a duplicate."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from types import TracebackType
from typing import Any

import grpc

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow_client._connection import Connection
from resumeflow_client._errors import ResumeflowError, UnavailableError, from_rpc_error
from resumeflow_client._models import Event, EventKind, RunStatus, _enum

log = logging.getLogger("resumeflow_client")

# Transport failures that surface with another code than UNAVAILABLE when a connection is cut.
_DROPPED_STREAM_MARKERS = ("RST_STREAM", "Stream removed", "Socket closed", "Connection reset")


class RunWatch:
    """An async iterator over a run's events after a sequence, until its RUN_FINISHED event.

    When the stream drops (UNAVAILABLE, a reset connection, a restarted history service), it is
    reopened from the last sequence yielded, with the client's bounded backoff (`RetryConfig`), so
    the events come out gapless and never twice. Use `async with` or `aclose()` to stop early.
    """

    def __init__(self, connection: Connection, run_id: str, after_sequence: int = 0) -> None:
        self._connection = connection
        self._run_id = run_id
        self._last_sequence = after_sequence
        self._call: Any = None
        self._failures = 0
        self._done = False
        # A message carries a batch of events; they are handed out one at a time.
        self._pending: deque[Event] = deque()

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event yielded (or the starting point before the first)."""
        return self._last_sequence

    def __aiter__(self) -> RunWatch:
        return self

    async def __anext__(self) -> Event:
        while True:
            while self._pending:
                event = self._pending.popleft()
                if event.sequence <= self._last_sequence:
                    continue  # already yielded before a reconnect
                self._last_sequence = event.sequence
                self._failures = 0
                if event.kind == EventKind.RUN_FINISHED:
                    await self.aclose()
                return event
            if self._done:
                raise StopAsyncIteration
            message = await self._read()
            if message is not None:
                self._pending.extend(Event._from_proto(event) for event in message.events)

    async def aclose(self) -> None:
        """Stop following; the run itself goes on."""
        self._done = True
        self._pending.clear()
        if self._call is not None:
            self._call.cancel()
            self._call = None

    async def __aenter__(self) -> RunWatch:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _read(self) -> Any:
        """The next message, or None after a drop that was handled by reconnecting."""
        if self._call is None:
            request = hpb.WatchRunRequest(run_id=self._run_id, after_sequence=self._last_sequence)
            self._call = self._connection.stream(self._connection.history.WatchRun, request)
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            self._call = None
            error = from_rpc_error(exc)
            if not is_dropped_stream(error):
                raise error from exc
            await self._backoff(error, exc)
            return None
        if message is grpc.aio.EOF:
            self._call = None
            if await self._run_finished():
                self._done = True  # watched from its end or past it: nothing more will come
                return None
            # The log always ends with RUN_FINISHED; a stream closing before it was cut short.
            error = UnavailableError(
                f"the event stream of run {self._run_id!r} ended before the run finished"
            )
            await self._backoff(error, None)
            return None
        return message

    async def _run_finished(self) -> bool:
        """Whether the run is finished, for a stream that ended without its RUN_FINISHED event:
        the history ends a finished run's watch at once when asked from its end or past it."""
        try:
            response = await self._connection.unary(
                self._connection.history.GetRun, hpb.GetRunRequest(run_id=self._run_id)
            )
        except UnavailableError:
            return False  # reconnecting will tell
        return _enum(RunStatus, response.run.status).is_terminal

    async def _backoff(self, error: ResumeflowError, cause: BaseException | None) -> None:
        if self._failures >= self._connection.retry.max_attempts:
            raise error from cause
        delay = self._connection.retry.backoff(self._failures)
        self._failures += 1
        log.debug(
            "watch of run %s dropped after sequence %d (%s); reconnecting in %.2fs",
            self._run_id,
            self._last_sequence,
            error.message,
            delay,
        )
        await asyncio.sleep(delay)


def is_dropped_stream(error: ResumeflowError) -> bool:
    """True when a stream failed because the connection did, so reopening it may succeed."""
    if error.code == grpc.StatusCode.UNAVAILABLE:
        return True
    transport = error.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) and not error.domain
    return transport and any(marker in error.message for marker in _DROPPED_STREAM_MARKERS)
