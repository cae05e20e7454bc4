"""A bare grpc.aio server for scenario 3's yardstick: no application code, only gRPC.

`python bench/bare_fanout.py ADDRESS` serves two methods. `Fan` (server-streaming) waits, then
sends one payload of the size the request names (an ASCII integer) and ends; `Go` (unary)
releases every waiting `Fan` at once. What 200 streams cost is then gRPC's own per-message cost.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import grpc

SERVICE = "bench.BareFanout"


async def serve(address: str) -> None:
    waiting = [asyncio.Event()]

    async def fan(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        await waiting[0].wait()
        yield b"x" * int(request)

    async def release(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        waiting[0].set()
        waiting[0] = asyncio.Event()  # the next round's streams wait anew
        return b""

    server = grpc.aio.server()
    handlers = {
        "Fan": grpc.unary_stream_rpc_method_handler(fan),  # no serializers: bytes as they are
        "Go": grpc.unary_unary_rpc_method_handler(release),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_insecure_port(address)
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
