"""Builds and serves the runner service."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from resumeflow.v1 import runner_service_pb2, runner_service_pb2_grpc
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS
from resumeflow_core.rpc.security import Security, open_channel
from resumeflow_core.rpc.server import BuiltServer, build_server
from runner_service import history_client
from runner_service.history_client import HistoryClient
from runner_service.runner import DEFAULT_MAX_ACTIVE_RUNS, Runner
from runner_service.servicer import RunnerServicer

SERVICE_NAME = runner_service_pb2.DESCRIPTOR.services_by_name["RunnerService"].full_name
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_HISTORY_ADDRESS = "127.0.0.1:50052"


@dataclass
class RunnerServer:
    """A started runner service: its server, bound port and application object."""

    built: BuiltServer
    runner: Runner
    history_channel: grpc.aio.Channel

    @property
    def port(self) -> int:
        return self.built.port

    async def stop(self, grace: float | None = None) -> None:
        await (self.built.stop() if grace is None else self.built.stop(grace))
        await self.runner.close()
        await self.history_channel.close()


async def start_runner_server(
    address: str = DEFAULT_ADDRESS,
    history_address: str = DEFAULT_HISTORY_ADDRESS,
    *,
    security: Security | None = None,
    history_security: Security | None = None,
    lease_seconds: float | None = None,
    max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS,
) -> RunnerServer:
    """Connect to the history service, bind `address` and start serving.

    Raises:
        UnavailableError: The address cannot be bound.
    """
    channel = open_channel(history_address, history_security, history_client.CHANNEL_OPTIONS)
    runner = Runner(
        HistoryClient(channel),
        lease_seconds=lease_seconds or DEFAULT_LEASE_SECONDS,
        max_active_runs=max_active_runs,
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
        await runner.close()
        await channel.close()
        raise
    return RunnerServer(built, runner, channel)
