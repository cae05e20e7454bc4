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


@dataclass
class HistoryServer:
    """A started history service: its server, bound port and application object."""

    built: BuiltServer
    history: History

    @property
    def port(self) -> int:
        return self.built.port

    async def stop(self, grace: float | None = None) -> None:
        await (self.built.stop() if grace is None else self.built.stop(grace))
        await self.history.close()


async def start_history_server(
    address: str = DEFAULT_ADDRESS,
    database_url: str = DEFAULT_DATABASE_URL,
    *,
    security: Security | None = None,
    reap_leases: bool = True,
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
    return HistoryServer(built, history)
