"""The channels and stubs a client talks through, and the one wrapper that maps their errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from resumeflow.v1 import history_service_pb2_grpc, runner_service_pb2_grpc
from resumeflow_client._config import CHANNEL_OPTIONS, RetryConfig
from resumeflow_client._errors import from_rpc_error

# The generated stubs are untyped; this is the one place they are constructed, typed as Any.
_RunnerStub: Callable[[Any], Any] = runner_service_pb2_grpc.RunnerServiceStub
_HistoryStub: Callable[[Any], Any] = history_service_pb2_grpc.HistoryServiceStub


@dataclass
class Connection:
    """Both services' stubs and the per-call settings every request goes out with."""

    runner: Any
    history: Any
    channels: tuple[Any, ...]
    metadata: tuple[tuple[str, str], ...]
    timeout: float | None
    retry: RetryConfig

    @classmethod
    def open(
        cls,
        runner_address: str,
        history_address: str,
        *,
        auth_token: str | None,
        tls: bool,
        tls_root_certificates: bytes | None,
        timeout: float | None,
        retry: RetryConfig,
    ) -> Connection:
        """Create the channels (inside the running event loop, which grpc.aio binds them to)."""
        secure = tls or tls_root_certificates is not None
        runner_channel = _channel(runner_address, secure, tls_root_certificates)
        history_channel = (
            runner_channel
            if history_address == runner_address
            else _channel(history_address, secure, tls_root_certificates)
        )
        metadata = (("authorization", f"Bearer {auth_token}"),) if auth_token else ()
        return cls(
            runner=_RunnerStub(runner_channel),
            history=_HistoryStub(history_channel),
            channels=tuple(dict.fromkeys((runner_channel, history_channel))),
            metadata=metadata,
            timeout=timeout,
            retry=retry,
        )

    async def unary(self, method: Callable[..., Awaitable[Any]], request: Any) -> Any:
        """Make a unary call with the timeout and credentials; gRPC errors become ours."""
        try:
            return await method(request, timeout=self.timeout, metadata=self.metadata)
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from exc

    def stream(self, method: Callable[..., Any], request: Any) -> Any:
        """Open a server stream (no deadline: it lasts as long as the run)."""
        return method(request, metadata=self.metadata)

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()


def _channel(address: str, secure: bool, root_certificates: bytes | None) -> Any:
    if secure:
        credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        return grpc.aio.secure_channel(address, credentials, options=CHANNEL_OPTIONS)
    return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
