"""Server reflection under both names clients ask for: `grpc.reflection.v1` (what grpc-js tools,
grpcurl and buf curl try first) and `grpc.reflection.v1alpha` (what grpcio-reflection implements).
The two protos declare the same messages under two package names, so they are one servicer, wired
to v1's method name as well. The google.rpc detail types (ErrorInfo, BadRequest) are in the
descriptor pool, so generic clients can decode the details of a rejection."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.rpc import error_details_pb2
from grpc_reflection.v1alpha import _async as reflection_aio
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
DETAIL_TYPES = (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest)
"""The detail types our errors carry: importing their module puts them in the default pool."""


def enable_reflection(service_names: Sequence[str], server: grpc.aio.Server) -> None:
    """Serve reflection of `service_names` (and of reflection itself) under v1 and v1alpha."""
    servicer = reflection_aio.ReflectionServicer([*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME])
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE_NAME,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
