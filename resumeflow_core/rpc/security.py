"""Bearer-token authentication and TLS for servers and the channels that call them."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from resumeflow_core.errors import UnauthenticatedError
from resumeflow_core.rpc.errors import to_rpc_status

# Load balancers and orchestrators probe health without credentials.
UNAUTHENTICATED_SERVICES = ("/grpc.health.v1.Health/",)


@dataclass(frozen=True)
class Security:
    """How a service authenticates callers and encrypts traffic; all optional."""

    auth_token: str = ""
    """When set, every call must carry `authorization: Bearer <token>`."""
    tls_cert: str = ""
    """Path of the PEM certificate chain the server presents."""
    tls_key: str = ""
    """Path of the PEM private key of `tls_cert`."""
    tls_ca: str = ""
    """For channels: path of the PEM root certificates to trust; empty with TLS means system roots."""
    tls: bool = False
    """For channels: use TLS."""

    def server_credentials(self) -> grpc.ServerCredentials | None:
        if not (self.tls_cert and self.tls_key):
            return None
        pair = (Path(self.tls_key).read_bytes(), Path(self.tls_cert).read_bytes())
        return grpc.ssl_server_credentials([pair])

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return [BearerTokenInterceptor(self.auth_token)] if self.auth_token else []


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without the right bearer token with UNAUTHENTICATED."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        handler = await continuation(handler_call_details)
        if (
            handler is None
            or method.startswith(UNAUTHENTICATED_SERVICES)
            or self._authorized(handler_call_details)
        ):
            return handler
        return _rejecting(handler)

    def _authorized(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._expected)
        return False


def _rejecting(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    status = to_rpc_status(
        UnauthenticatedError("missing or wrong bearer token in the 'authorization' metadata")
    )

    async def reject_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort_with_status(status)

    async def reject_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort_with_status(status)
        yield  # pragma: no cover - makes this an async generator

    deserialize, serialize = handler.request_deserializer, handler.response_serializer
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(reject_stream, deserialize, serialize)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(reject_unary, deserialize, serialize)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(reject_stream, deserialize, serialize)
    return grpc.unary_unary_rpc_method_handler(reject_unary, deserialize, serialize)


class _TokenInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
):
    """Adds the bearer token to every outgoing call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = list(details.metadata or ()) + [self._header]
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*metadata),
            details.credentials,
            details.wait_for_ready,
        )

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._with_token(client_call_details), request)

    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return await continuation(self._with_token(client_call_details), request)


# Keep-alives detect a dead peer on long WatchRun / RunWorkflow streams.
CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]


def open_channel(
    address: str, security: Security | None = None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """An aio channel to `address` with the token and TLS settings of `security`, and further
    channel `options` besides the shared ones."""
    security = security or Security()
    options = [*CHANNEL_OPTIONS, *options]
    interceptors = [_TokenInterceptor(security.auth_token)] if security.auth_token else None
    if security.tls or security.tls_ca:
        roots = Path(security.tls_ca).read_bytes() if security.tls_ca else None
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
