"""Builds a grpc.aio server with health, reflection, auth and TLS; starting and stopping it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from resumeflow_core.errors import UnavailableError
from resumeflow_core.limits import MAX_MESSAGE_BYTES
from resumeflow_core.reasons import LISTEN_FAILED
from resumeflow_core.rpc.decoding import tolerant
from resumeflow_core.rpc.reflection import enable_reflection
from resumeflow_core.rpc.registration import rewriting
from resumeflow_core.rpc.security import Security

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 5.0  # seconds in-flight calls get to finish on shutdown
SERVER_OPTIONS = (
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)


@dataclass
class BuiltServer:
    """A bound, not yet started server."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: Sequence[str]

    async def start(self) -> None:
        await self.server.start()
        for name in (*self.service_names, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Report NOT_SERVING first so balancers drain us, then stop accepting calls."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def build_server(
    address: str,
    register: Callable[[grpc.aio.Server], None],
    service_names: Sequence[str],
    security: Security | None = None,
) -> BuiltServer:
    """Create a server for `address`, register servicers, health and reflection, and bind the port.

    Raises:
        UnavailableError: The address cannot be bound (for example, the port is taken).
    """
    security = security or Security()
    server = grpc.aio.server(interceptors=security.interceptors(), options=SERVER_OPTIONS)
    register(rewriting(server, tolerant))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    enable_reflection([*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name], server)
    credentials = security.server_credentials()
    try:
        if credentials is not None:
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc's text only says "Failed to bind"
        raise UnavailableError(
            f"cannot listen on {address}: the address is in use or cannot be bound", reason=LISTEN_FAILED
        ) from exc
    if port == 0:
        raise UnavailableError(f"cannot listen on {address}: address in use or invalid", reason=LISTEN_FAILED)
    return BuiltServer(server, port, health_servicer, list(service_names))
