"""Decorators that put every servicer method behind one error boundary.

A domain error becomes its gRPC status with details; anything else is logged and becomes a bare
INTERNAL status, so no traceback text (which may hold secrets) reaches a client. A request that
could not be decoded (see `decoding.py`) is INVALID_ARGUMENT before the method runs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from resumeflow_core.errors import ResumeflowError
from resumeflow_core.rpc.decoding import Undecodable
from resumeflow_core.rpc.errors import internal_status, to_rpc_status

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")


def unary_rpc(
    method: Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]],
) -> Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Response:
        try:
            if isinstance(request, Undecodable):
                raise request.error()
            return await method(self, request, context)
        except ResumeflowError as error:
            await context.abort_with_status(to_rpc_status(error))
        except Exception as exc:
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort_with_status(internal_status(exc))
        raise AssertionError("unreachable: abort_with_status raises")

    return wrapper


def stream_rpc(
    method: Callable[[Any, Request, grpc.aio.ServicerContext], AsyncIterator[Response]],
) -> Callable[[Any, Request, grpc.aio.ServicerContext], AsyncIterator[Response]]:
    @functools.wraps(method)
    async def wrapper(
        self: Any, request: Request, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Response]:
        try:
            if isinstance(request, Undecodable):
                raise request.error()
            async for response in method(self, request, context):
                yield response
        except ResumeflowError as error:
            await context.abort_with_status(to_rpc_status(error))
        except Exception as exc:
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort_with_status(internal_status(exc))

    return wrapper
