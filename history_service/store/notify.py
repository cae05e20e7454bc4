"""Database notifications of appended events (PostgreSQL LISTEN/NOTIFY), so every history replica
learns at once that a run's log grew, whichever replica appended to it. SQLite has no other
replica to tell, so there both halves do nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "resumeflow_events"
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)  # seconds between attempts to listen again

log = logging.getLogger(__name__)

Appended = Callable[[str, int], None]
"""Called with a run id and the sequence of its last stored event."""


async def announce(session: AsyncSession, run_id: str, last_sequence: int) -> None:
    """Tell every listener, when the transaction commits, that the run's log reached `last_sequence`."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(CHANNEL, f"{run_id}:{last_sequence}")))


class Listener:
    """Keeps one connection listening for announcements, reconnecting when it drops."""

    def __init__(self, url: URL, appended: Appended) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._appended = appended
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="event-notifications")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                log.warning("cannot listen for event notifications (%s); retrying in %.1fs", error, delay)
                failures += 1
                await asyncio.sleep(delay)
                continue
            failures = 0
            try:
                await self._listen_until_dropped(connection)
                log.warning("the event notification connection dropped; listening again")
            finally:
                with contextlib.suppress(Exception):  # closing a broken connection may fail too
                    await connection.close()

    async def _listen_until_dropped(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._on_notification)
        await lost.wait()

    def _on_notification(self, connection: object, pid: int, channel: str, payload: str) -> None:
        run_id, _, sequence = payload.rpartition(":")
        if run_id and sequence.isdigit():
            self._appended(run_id, int(sequence))
