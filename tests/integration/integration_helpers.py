"""Real services in-process on ephemeral ports, and small builders for messages the tests send."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import grpc
from google.protobuf import struct_pb2

from history_service.server import HistoryServer, start_history_server
from resumeflow.v1 import (
    history_service_pb2 as hpb,
)
from resumeflow.v1 import (
    history_service_pb2_grpc,
    run_pb2,
    runner_service_pb2_grpc,
    workflow_pb2,
)
from resumeflow.v1 import (
    runner_service_pb2 as rpb,
)
from resumeflow_core.rpc.security import Security
from runner_service.server import RunnerServer, start_runner_server

RUNNER_TOKEN = "runner-only-token"
"""The runner credential of services started with client auth and no runner token of their own."""


@dataclass
class Services:
    history_server: HistoryServer
    runner_server: RunnerServer
    history: history_service_pb2_grpc.HistoryServiceStub
    runner: runner_service_pb2_grpc.RunnerServiceStub
    history_channel: grpc.aio.Channel
    runner_channel: grpc.aio.Channel

    async def put(self, workflow: workflow_pb2.Workflow) -> workflow_pb2.Workflow:
        response = await self.history.PutWorkflow(hpb.PutWorkflowRequest(workflow=workflow))
        return response.workflow

    async def run(self, request: rpb.RunWorkflowRequest) -> list[rpb.RunWorkflowResponse]:
        """Run to the end and return every stream message."""
        return [message async for message in self.runner.RunWorkflow(request)]

    async def get_run(self, run_id: str) -> run_pb2.Run:
        return (await self.history.GetRun(hpb.GetRunRequest(run_id=run_id))).run

    async def events(self, run_id: str, after: int = 0) -> list[run_pb2.Event]:
        call = self.history.WatchRun(hpb.WatchRunRequest(run_id=run_id, after_sequence=after))
        return [event async for response in call for event in response.events]


async def start_services(
    database_url: str, security: Security | None = None, *, reap_leases: bool = True, **runner_options: Any
) -> Services:
    history_security = security
    if security is not None and security.auth_token and not security.runner_token:
        history_security = replace(security, runner_token=RUNNER_TOKEN)  # as `serve all` does
    history = await start_history_server(
        "127.0.0.1:0", database_url, security=history_security, reap_leases=reap_leases
    )
    runner = await start_runner_server(
        "127.0.0.1:0",
        f"127.0.0.1:{history.port}",
        security=security,
        history_security=history_security,
        **runner_options,
    )
    history_channel = grpc.aio.insecure_channel(f"127.0.0.1:{history.port}")
    runner_channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    return Services(
        history,
        runner,
        history_service_pb2_grpc.HistoryServiceStub(history_channel),
        runner_service_pb2_grpc.RunnerServiceStub(runner_channel),
        history_channel,
        runner_channel,
    )


async def stop_services(services: Services) -> None:
    await services.runner_channel.close()
    await services.history_channel.close()
    await services.runner_server.stop(0)
    await services.history_server.stop(0)


def node(node_id: str, node_type: str, label: str = "", **config: Any) -> workflow_pb2.Node:
    message = workflow_pb2.Node(id=node_id, type=node_type, label=label or node_id)
    if config:
        message.config.update(config)
    return message


def edge(source: str, target: str, branch: str = "") -> workflow_pb2.Edge:
    return workflow_pb2.Edge(source=source, target=target, branch=branch)


def workflow(
    workflow_id: str, nodes: list[workflow_pb2.Node], edges: list[tuple[str, str]] | list[workflow_pb2.Edge]
) -> workflow_pb2.Workflow:
    built = [e if isinstance(e, workflow_pb2.Edge) else edge(*e) for e in edges]
    return workflow_pb2.Workflow(id=workflow_id, name=workflow_id, nodes=nodes, edges=built)


def struct(**values: Any) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def error_details(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """(ErrorInfo.reason, ErrorInfo.metadata, [(field, description)]) of a failed call."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    reason, metadata, violations = "", {}, []
    for detail in status.details:
        info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad_request):
            violations = [(v.field, v.description) for v in bad_request.field_violations]
    return reason, metadata, violations


async def read_to_end(call: grpc.aio.UnaryStreamCall) -> list[Any]:
    """The remaining messages of a stream that was read with `read()` so far."""
    messages = []
    while (message := await call.read()) is not grpc.aio.EOF:
        messages.append(message)
    return messages


def streamed_events(messages: list[Any]) -> list[run_pb2.Event]:
    """Every node event of a RunWorkflow stream, in order, across its batches."""
    return [event for m in messages if m.WhichOneof("payload") == "events" for event in m.events.events]


async def wait_for_node(call: grpc.aio.UnaryStreamCall, node_id: str, status: int) -> None:
    """Read a RunWorkflow stream until `node_id` reaches `status`."""
    while True:
        message = await call.read()
        assert message is not grpc.aio.EOF, f"the stream ended before {node_id} reached {status}"
        if any((e.node_id, e.node_status) == (node_id, status) for e in message.events.events):
            return
