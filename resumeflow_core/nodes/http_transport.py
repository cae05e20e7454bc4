"""The runner's shared httpx client, whose every connection passes the destination policy.

The policy is applied where a connection is made, not to URLs: the network backend resolves the
host itself, checks the host and every address against the policy, then connects to a checked
address. A later DNS answer cannot redirect a checked connection, and every redirect hop that
opens a connection is checked the same way. TLS still verifies and sends SNI for the host name:
httpcore starts TLS on the stream with the request's host, whatever address the socket reached.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from resumeflow_core.nodes.base import NodeFailure
from resumeflow_core.nodes.destinations import DestinationPolicy, IPAddress
from resumeflow_core.reasons import DESTINATION_DENIED

MAX_CONNECTIONS = 100  # httpx's default pool size
MAX_KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY = 5.0  # seconds
ACCEPT_ENCODING = "gzip, deflate"
"""The encodings the capped body reader decodes (resumeflow_core.nodes.response_body)."""


class DestinationDeniedError(NodeFailure):
    """The destination policy refused a connection; raised before any connection is made.

    A node failure, so any node using the runner's client fails DESTINATION_DENIED.

    Attributes:
        reason: Why, e.g. "127.0.0.2 is in the denied network 127.0.0.2/32 (--http-deny)".
    """

    def __init__(self, reason: str) -> None:
        super().__init__(DESTINATION_DENIED, f"destination denied: {reason}")
        self.reason = reason


def open_http_client(policy: DestinationPolicy) -> httpx.AsyncClient:
    """A client for http nodes: policy-checked connections, no redirects followed, no proxies.

    Environment proxies are ignored (`trust_env=False`): through a proxy the policy would only see
    the proxy's address.
    """
    return httpx.AsyncClient(
        transport=_CheckedTransport(policy),
        follow_redirects=False,
        trust_env=False,
        headers={"Accept-Encoding": ACCEPT_ENCODING},
    )


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request and error mapping) over a pool with the checked backend."""

    def __init__(self, policy: DestinationPolicy) -> None:
        context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749), so replace the pool it built
        # with the same one over ours; the policy tests of tests/core/test_http_safety.py fail if
        # this stops working.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY,
            network_backend=CheckedBackend(policy),
        )


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to the checked addresses only."""

    def __init__(
        self, policy: DestinationPolicy, backend: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._policy = policy
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable address of `host`.

        Raises:
            DestinationDeniedError: The host or one of its addresses is refused by the policy.
            httpcore.ConnectError: The name does not resolve, or no address accepts.
        """
        reason = self._policy.refusal(host)  # host rules first: a denied name is not even looked up
        addresses = await resolve(host, port) if reason is None else []
        reason = reason or self._policy.refusal(host, addresses)
        if reason is not None:
            raise DestinationDeniedError(reason)
        error: Exception = httpcore.ConnectError("no address to connect to")
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationDeniedError("unix sockets are not a destination")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of `host`, in the resolver's order, without repeats.

    Raises:
        httpcore.ConnectError: The name does not resolve.
    """
    try:
        return [ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))]
    except ValueError:
        pass  # a name (or an odd address spelling such as 2130706433): ask the resolver
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(os_reason(exc) or "the name does not resolve") from exc
    addresses: dict[IPAddress, None] = {}
    for *_, sockaddr in infos:
        # An IPv6 sockaddr may carry a zone (fe80::1%eth0): drop it, the address is what counts.
        addresses[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(addresses)


def os_reason(exc: BaseException) -> str | None:
    """The operating system's or TLS's reason behind `exc`, in fixed words that quote nothing of
    the request ("Connection refused", "CERTIFICATE_VERIFY_FAILED"), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return str(current.reason or "TLS error")
        if isinstance(current, socket.gaierror) and current.strerror:
            return current.strerror
        if isinstance(current, OSError) and isinstance(current.errno, int) and current.errno > 0:
            return os.strerror(current.errno)
        if isinstance(current, BaseExceptionGroup) and current.exceptions:
            current = current.exceptions[0]
            continue
        current = current.__cause__ or current.__context__
    return None
