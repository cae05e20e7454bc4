"""Tiny scripted HTTP servers on loopback addresses (127.0.0.0/8 only), for the http node's safety tests."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Respond = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]
"""Writes a response to the request head it is given."""


@dataclass
class Loopback:
    """A listening server and what it saw."""

    host: str
    port: int
    accepted: int = 0
    """Connections accepted: 0 proves nothing connected."""
    heads: list[bytes] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"


@contextlib.asynccontextmanager
async def serve(respond: Respond, host: str = "127.0.0.1") -> AsyncIterator[Loopback]:
    """Serve `respond` on `host` (a loopback address) and an ephemeral port."""
    assert host.startswith("127."), "loopback only"
    loopback = Loopback(host, 0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loopback.accepted += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            loopback.heads.append(head)
            await respond(head, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: what these tests provoke
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, 0)
    loopback.port = server.sockets[0].getsockname()[1]
    try:
        yield loopback
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def fixed(status: int, body: bytes = b"", **headers: str) -> Respond:
    """A complete response with a Content-Length."""

    async def respond(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head(status, {"Content-Length": str(len(body)), **headers}) + body)

    return respond


def streamed(total: int, piece: int = 64 * 1024) -> Respond:
    """`total` bytes with no Content-Length (read until close), written as the client reads."""

    async def respond(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head(200, {"Content-Type": "application/octet-stream"}))
        chunk = b"x" * piece
        for _ in range(total // piece):
            writer.write(chunk)
            await writer.drain()

    return respond


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body of `decoded_bytes` zeros: about a thousandth of that on the wire."""
    return gzip.compress(b"\0" * decoded_bytes, compresslevel=9)


def trickle(body: bytes, interval: float) -> Respond:
    """Headers at once, then the body one byte per `interval` seconds."""

    async def respond(_: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head(200, {"Content-Length": str(len(body))}))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)

    return respond


def redirect(location: str, status: int = 302) -> Respond:
    return fixed(status, b"", Location=location)
