"""Registering generated handlers with a rewrite: the generated `add_*_to_server` code registers
through a stand-in for the server that passes every handler through a function first."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import grpc

Rewrite = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]
"""Takes a method's full name ("/package.Service/Method") and its handler; returns the handler to use."""


def rewriting(server: grpc.aio.Server, rewrite: Rewrite) -> grpc.aio.Server:
    """A stand-in for `server` to hand to generated registration code."""
    # It has the two methods registration calls, which is all the generated code uses.
    return cast(grpc.aio.Server, _RewritingRegistration(server, rewrite))


class _RewritingRegistration:
    def __init__(self, server: grpc.aio.Server, rewrite: Rewrite) -> None:
        self._server = server
        self._rewrite = rewrite

    def add_generic_rpc_handlers(self, handlers: tuple[grpc.GenericRpcHandler, ...]) -> None:
        self._server.add_generic_rpc_handlers(tuple(_RewrittenGeneric(h, self._rewrite) for h in handlers))

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        rewrite = self._rewrite
        self._server.add_registered_method_handlers(
            service, {name: rewrite(f"/{service}/{name}", handler) for name, handler in handlers.items()}
        )


class _RewrittenGeneric(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler, rewrite: Rewrite) -> None:
        self._inner = inner
        self._rewrite = rewrite

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(handler_call_details)
        return None if handler is None else self._rewrite(handler_call_details.method, handler)
