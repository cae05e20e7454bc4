"""Builds and serves the runner service."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc

from resumeflow.v1 import runner_service_pb2, runner_service_pb2_grpc
from resumeflow_core.errors import PermissionDeniedError, UnauthenticatedError, UnavailableError
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_NODE_OUTPUT_BYTES
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.rpc.security import Security, open_channel
from resumeflow_core.rpc.server import BuiltServer, build_server
from runner_service import history_client
from runner_service.history_client import HistoryClient
from runner_service.runner import DEFAULT_MAX_ACTIVE_RUNS, DEFAULT_SHUTDOWN_GRACE, Runner
from runner_service.servicer import RunnerServicer

log = logging.getLogger(__name__)

SERVICE_NAME = runner_service_pb2.DESCRIPTOR.services_by_name["RunnerService"].full_name
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_HISTORY_ADDRESS = "127.0.0.1:50052"
STREAM_FLUSH_GRACE = 1.0  # seconds the streams of stopped runs get to send their last messages


@dataclass
class RunnerServer:
    """A started runner service: its server, bound port and application object."""

    built: BuiltServer
    runner: Runner
    history_channel: grpc.aio.Channel
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE

    @property
    def port(self) -> int:
        return self.built.port

    async def stop(self, grace: float | None = None) -> None:
        """Stop gracefully: health NOT_SERVING, new runs UNAVAILABLE (SHUTTING_DOWN), nodes in
        flight get `grace` seconds (default: the server's shutdown grace), every run's end is
        recorded and streamed to its followers, then the server stops.

        The server keeps serving meanwhile, so a rejected caller learns why and the streams of
        the stopped runs deliver their end."""
        await self.built.health.enter_graceful_shutdown()
        await self.runner.close(self.shutdown_grace if grace is None else grace)
        # However short the nodes' grace (0 included), the ends just recorded still need their
        # streams: stop() returns as soon as those calls complete.
        await self.built.stop(STREAM_FLUSH_GRACE)
        await self.history_channel.close()


async def start_runner_server(
    address: str = DEFAULT_ADDRESS,
    history_address: str = DEFAULT_HISTORY_ADDRESS,
    *,
    security: Security | None = None,
    history_security: Security | None = None,
    lease_seconds: float | None = None,
    max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
    http_settings: HttpSettings | None = None,
    max_node_output_bytes: int = DEFAULT_MAX_NODE_OUTPUT_BYTES,
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
) -> RunnerServer:
    """Connect to the history service, bind `address` and start serving.

    Raises:
        UnavailableError: The address cannot be bound.
        UnauthenticatedError, PermissionDeniedError: The history refuses the runner's credential.
    """
    channel = open_channel(history_address, history_security, history_client.CHANNEL_OPTIONS)
    history = HistoryClient(channel)
    try:
        await _check_credential(history, history_address)
    except BaseException:
        await channel.close()
        raise
    runner = Runner(
        history,
        lease_seconds=lease_seconds or DEFAULT_LEASE_SECONDS,
        max_active_runs=max_active_runs,
        http_settings=http_settings,
        max_node_output_bytes=max_node_output_bytes,
    )
    try:
        built = build_server(
            address,
            lambda server: runner_service_pb2_grpc.add_RunnerServiceServicer_to_server(
                RunnerServicer(runner), server
            ),
            [SERVICE_NAME],
            security,
        )
        await built.start()
    except BaseException:
        await runner.close(0)
        await channel.close()
        raise
    return RunnerServer(built, runner, channel, shutdown_grace)


async def _check_credential(history: HistoryClient, address: str) -> None:
    """Refuse to start with a credential the history would refuse every run's records with.

    A history that is not up yet is no reason to fail: the runner rides through outages.
    """
    try:
        await history.check_credential()
    except UnavailableError as error:
        log.warning("cannot check the runner credential: history at %s is unreachable (%s)", address, error)
    except (UnauthenticatedError, PermissionDeniedError) as error:
        needs = "the runner token" if isinstance(error, PermissionDeniedError) else "a token it knows"
        message = (
            f"the history service at {address} refuses this runner's writes ({error.reason}: it needs "
            f"{needs}); start the runner with the history's --runner-token (RESUMEFLOW_RUNNER_TOKEN)"
        )
        raise type(error)(message, reason=error.reason) from error
