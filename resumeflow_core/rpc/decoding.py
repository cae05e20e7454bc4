"""Requests that cannot be decoded become INVALID_ARGUMENT instead of grpc's UNKNOWN.

grpc answers an exception of a request deserializer with UNKNOWN ("Unexpected DecodeError"): bad
UTF-8 in a string field, a message nested deeper than protobuf's limit, truncated bytes. Handlers
rewritten by `tolerant` at registration decode such a request into an `Undecodable` instead,
which the servicer boundary (`boundary.py`) answers with INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from resumeflow_core.errors import FieldViolation, InvalidArgumentError
from resumeflow_core.reasons import MALFORMED_REQUEST


class Undecodable:
    """What a request that could not be decoded turns into."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem

    def error(self) -> InvalidArgumentError:
        return InvalidArgumentError(
            f"the request cannot be decoded: {self.problem}",
            reason=MALFORMED_REQUEST,
            violations=[FieldViolation("", self.problem, MALFORMED_REQUEST)],
        )


def tolerant(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` with a request deserializer that returns an `Undecodable` instead of raising
    (a `registration.Rewrite`; requests that stream are left alone)."""
    decode = handler.request_deserializer
    if handler.request_streaming or decode is None:
        return handler
    return handler._replace(request_deserializer=_tolerant_decoder(decode))


def _tolerant_decoder(decode: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def decode_or_report(data: bytes) -> Any:
        try:
            return decode(data)
        except DecodeError as exc:
            return Undecodable(str(exc))

    return decode_or_report
