"""Builds and serves the history service."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from history_service.history import History
from history_service.servicer import HistoryServicer, add_to_server
from resumeflow.v1 import history_service_pb2
from resumeflow_core.rpc.security import Security
from resumeflow_core.rpc.server import BuiltServer, build_server

log = logging.getLogger(__name__)

SERVICE_NAME = history_service_pb2.DESCRIPTOR.services_by_name["HistoryService"].full_name
DEFAULT_ADDRESS = "127.0.0.1:50052"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///.resumeflow/history.db"
DEFAULT_SHUTDOWN_GRACE = 10.0  # seconds, the runners' grace (`--shutdown-grace`)
WRITER_MARGIN = 15.0  # seconds beyond the runners' grace: their time to record the stopped runs
CALL_FLUSH_GRACE = 1.0  # seconds the calls in flight get once the writes are done

log = logging.getLogger(__name__)


@dataclass
class HistoryServer:
    """A started history service: its server, bound port and application object."""

    built: BuiltServer
    history: History
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE

    @property
    def port(self) -> int:
        return self.built.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: health NOT_SERVING, watches end UNAVAILABLE at once, runner writes are
        still accepted until every run written through here is finished (or its lease ran out),
        for at most `grace` seconds (default: the runners' shutdown grace + WRITER_MARGIN)."""
        await self.built.health.enter_graceful_shutdown()
        timeout = self.shutdown_grace + WRITER_MARGIN if grace is None else grace
        if not await self.history.drain(timeout):
            log.warning(
                "stopping after %gs with runs still written through here: %s",
                timeout,
                ", ".join(self.history.writers.active()),
            )
        await self.built.stop(CALL_FLUSH_GRACE if grace is None else min(grace, CALL_FLUSH_GRACE))
        await self.history.close()


async def start_history_server(
    address: str = DEFAULT_ADDRESS,
    database_url: str = DEFAULT_DATABASE_URL,
    *,
    security: Security | None = None,
    reap_leases: bool = True,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> HistoryServer:
    """Open the database (applying migrations), bind `address` and start serving.

    Raises:
        UnavailableError: The database is unreachable or the address cannot be bound.
    """
    if security is not None and security.auth_token and not security.runner_token:
        log.warning(
            "--auth-token without --runner-token: no runner can record runs here "
            "(CreateRun, AppendEvents, FinishRun, HeartbeatRun are refused to client tokens)"
        )
    history = await History.open(database_url)
    try:
        built = build_server(
            address,
            lambda server: add_to_server(HistoryServicer(history), server),
            [SERVICE_NAME],
            security,
        )
        await built.start()
    except BaseException:
        await history.close()
        raise
    if reap_leases:
        history.start_lease_reaper()
    return HistoryServer(built, history, shutdown_grace)
