"""Bearer-token authentication and TLS for servers and the channels that call them."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from resumeflow_core.errors import PermissionDeniedError, ResumeflowError, UnauthenticatedError
from resumeflow_core.limits import MAX_MESSAGE_BYTES
from resumeflow_core.reasons import CLIENT_CREDENTIAL_REQUIRED, RUNNER_CREDENTIAL_REQUIRED
from resumeflow_core.rpc.errors import to_rpc_status

# Load balancers and orchestrators probe health without credentials.
UNAUTHENTICATED_SERVICES = ("/grpc.health.v1.Health/",)

_HISTORY = "/resumeflow.v1.HistoryService/"
RUNNER_WRITES = frozenset(
    _HISTORY + name for name in ("CreateRun", "AppendEvents", "FinishRun", "HeartbeatRun")
)
"""The runner-facing writes: they need the runner credential (SPEC §11)."""
RUNNER_READS = frozenset(
    _HISTORY + name
    for name in ("GetWorkflow", "GetRun", "GetLatestFailed", "GetLineageContext", "WatchRun", "RequestCancel")
)
"""The other history calls a runner makes (runner_service.history_client): either credential may."""
ANY_CREDENTIAL_SERVICES = ("/grpc.reflection.",)
"""Reflection describes the API to any caller that holds a credential."""


@dataclass(frozen=True)
class Security:
    """How a service authenticates callers and encrypts traffic; all optional."""

    auth_token: str = ""
    """When set, every call must carry `authorization: Bearer <token>` (or the runner token, for
    the calls a runner makes)."""
    runner_token: str = ""
    """Server: the token the runner-facing writes need (with none, they need nothing unless
    `auth_token` is set, and then are refused). Channel: sent instead of `auth_token`."""
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
        if not (self.auth_token or self.runner_token):
            return []
        return [BearerTokenInterceptor(self.auth_token, runner_token=self.runner_token)]

    @property
    def channel_token(self) -> str:
        """The token a channel sends: the runner's own credential when it has one."""
        return self.runner_token or self.auth_token


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Checks the bearer token of every call against what the method needs.

    Cases: (1) health, and methods this server lacks: nothing; (2) a runner-facing write: the
    runner token, PERMISSION_DENIED for the client token; (3) the runner's reads and reflection:
    either token; (4) every other call: the client token, PERMISSION_DENIED for the runner token.
    A missing or unknown token is UNAUTHENTICATED; a side with no token configured is open,
    except that the writes are refused to clients when only the client token is configured.
    """

    def __init__(self, token: str, *, runner_token: str = "") -> None:
        self._client = f"Bearer {token}".encode() if token else None
        self._runner = f"Bearer {runner_token}".encode() if runner_token else None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(UNAUTHENTICATED_SERVICES):  # case (1)
            return handler
        refusal = self._refusal(method, _bearer(handler_call_details))
        return handler if refusal is None else _rejecting(handler, refusal)

    def _refusal(self, method: str, given: bytes | None) -> ResumeflowError | None:
        client, runner = _matches(given, self._client), _matches(given, self._runner)
        if method in RUNNER_WRITES:  # case (2)
            if runner or (self._runner is None and self._client is None):
                return None
            if client:
                unset = " (this service has none configured)" if self._runner is None else ""
                return PermissionDeniedError(
                    f"{method.rsplit('/', 1)[1]} is a runner-facing write: it needs the runner token "
                    f"(--runner-token){unset}, not a client token",
                    reason=RUNNER_CREDENTIAL_REQUIRED,
                )
            return _unauthenticated()
        if self._client is None or client:
            return None
        if method in RUNNER_READS or method.startswith(ANY_CREDENTIAL_SERVICES):  # case (3)
            return None if runner else _unauthenticated()
        if runner:  # case (4)
            return PermissionDeniedError(
                "the runner token may only make the calls a runner makes; use a client token",
                reason=CLIENT_CREDENTIAL_REQUIRED,
            )
        return _unauthenticated()


def _bearer(details: grpc.HandlerCallDetails) -> bytes | None:
    for key, value in details.invocation_metadata or ():
        if key == "authorization":
            return value.encode() if isinstance(value, str) else value
    return None


def _matches(given: bytes | None, expected: bytes | None) -> bool:
    return given is not None and expected is not None and hmac.compare_digest(given, expected)


def _unauthenticated() -> UnauthenticatedError:
    return UnauthenticatedError("missing or wrong bearer token in the 'authorization' metadata")


def _rejecting(handler: grpc.RpcMethodHandler, error: ResumeflowError) -> grpc.RpcMethodHandler:
    status = to_rpc_status(error)

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
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def open_channel(
    address: str, security: Security | None = None, options: Sequence[tuple[str, Any]] = ()
) -> grpc.aio.Channel:
    """An aio channel to `address` with the token and TLS settings of `security`, and further
    channel `options` besides the shared ones."""
    security = security or Security()
    options = [*CHANNEL_OPTIONS, *options]
    token = security.channel_token
    interceptors = [_TokenInterceptor(token)] if token else None
    if security.tls or security.tls_ca:
        roots = Path(security.tls_ca).read_bytes() if security.tls_ca else None
        credentials = grpc.ssl_channel_credentials(root_certificates=roots)
        return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
