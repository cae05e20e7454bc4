"""Hostile requests to every RPC of both services, on both databases: none is answered INTERNAL,
UNKNOWN or RESOURCE_EXHAUSTED, every rejection carries an ErrorInfo reason, and a rejected request
changes no stored row."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration_helpers import Services, node, start_services, stop_services, workflow
from request_strategies import RPCS, Known, Rpc, raw_requests
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED}
CALL_TIMEOUT = 30.0  # seconds; generous, only against hangs
WATCH_TIMEOUT = 0.3  # seconds a watch of a live run may tail before the test moves on
TABLES = {
    "workflows": "id",
    "workflow_versions": "workflow_id, version",
    "runs": "id",
    "node_results": "run_id, node_id",
    "events": "run_id, sequence",
}
TALLY: Counter[tuple[str, str]] = Counter()
"""(backend, status code) of every request sent, printed at the end of the module (`pytest -s`)."""


@dataclass
class Target:
    services: Services
    known: Known
    database: AsyncEngine
    backend: str


@pytest.fixture(scope="module", autouse=True)
def report_tally() -> Iterator[None]:
    yield
    for backend in sorted({backend for backend, _ in TALLY}):
        codes = {code: n for (b, code), n in sorted(TALLY.items()) if b == backend}
        print(f"\nfuzz {backend}: {sum(codes.values())} requests, {codes}")


@pytest.fixture
async def target(database_url: str) -> AsyncIterator[Target]:
    """Both services without the lease reaper (it would change rows between snapshots), seeded with
    a failed run, a succeeded one and a running one."""
    services = await start_services(database_url, reap_leases=False)
    database = create_async_engine(database_url, pool_size=1)
    try:
        yield Target(services, await seed(services), database, database_url.split(":")[0].split("+")[0])
    finally:
        await database.dispose()
        await stop_services(services)


async def seed(services: Services) -> Known:
    nodes = [
        node("start", "start"),
        node("a", "noop"),
        node("check", "assert", assertions=["env.fail != 'yes'"]),
    ]
    await services.put(workflow("fuzz", nodes, [("start", "a"), ("a", "check")]))
    failed = await services.run(
        rpb.RunWorkflowRequest(workflow_id="fuzz", environment=run_pb2.Environment(values={"fail": "yes"}))
    )
    succeeded = await services.run(rpb.RunWorkflowRequest(workflow_id="fuzz"))
    running = await services.history.CreateRun(
        hpb.CreateRunRequest(
            run=run_pb2.Run(workflow_id="fuzz", workflow_version=1),
            runner_id="fuzz-runner",
            node_ids=["start", "a", "check"],
            lease_duration={"seconds": 86_400},
        )
    )
    return Known(
        workflow_ids=("fuzz",),
        run_ids=(failed[0].accepted.run.id, succeeded[0].accepted.run.id, running.run.id),
        node_ids=("start", "a", "check"),
        runner_ids=("fuzz-runner",),
    )


async def snapshot(database: AsyncEngine) -> str:
    """A digest of every stored row."""
    digest = hashlib.sha256()
    async with database.connect() as connection:
        for table, key in TABLES.items():
            for row in await connection.execute(text(f"SELECT * FROM {table} ORDER BY {key}")):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


async def send(services: Services, rpc: Rpc, request: Message | bytes) -> grpc.aio.AioRpcError | None:
    """Call `rpc` with `request` (a message, or raw bytes sent as they are); the error, if any."""
    channel = services.history_channel if rpc.service == "HistoryService" else services.runner_channel
    serialize = None if isinstance(request, bytes) else type(request).SerializeToString
    timeout = WATCH_TIMEOUT if rpc.name == "WatchRun" else CALL_TIMEOUT
    try:
        if rpc.streaming:
            async for _ in channel.unary_stream(rpc.path, request_serializer=serialize)(
                request, timeout=timeout
            ):
                pass
        else:
            await channel.unary_unary(rpc.path, request_serializer=serialize)(request, timeout=timeout)
    except grpc.aio.AioRpcError as error:
        return error
    return None


def reason_of(error: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    return next((info.reason for detail in (status.details if status else ()) if detail.Unpack(info)), "")


async def check(target: Target, rpc: Rpc, request: Message | bytes) -> None:
    before = await snapshot(target.database)
    error = await send(target.services, rpc, request)
    code = grpc.StatusCode.OK if error is None else error.code()
    TALLY[(target.backend, code.name)] += 1
    if error is None or (code == grpc.StatusCode.DEADLINE_EXCEEDED and rpc.name == "WatchRun"):
        return  # accepted (rows may change), or a watch still tailing a live run
    shown = f"{rpc.name}({str(request)[:300]!r}) -> {code.name}: {error.details()[:300]}"
    assert code not in FORBIDDEN and code != grpc.StatusCode.DEADLINE_EXCEEDED, shown
    assert reason_of(error), f"no ErrorInfo reason: {shown}"
    assert await snapshot(target.database) == before, f"a rejected request changed stored rows: {shown}"


@settings(
    max_examples=int(os.environ.get("RESUMEFLOW_FUZZ_EXAMPLES", "12")),  # more for a campaign
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
async def test_hostile_requests_to_every_rpc_get_a_client_error_and_change_nothing(
    target: Target, data: st.DataObject
) -> None:
    for rpc in RPCS:
        await check(target, rpc, data.draw(rpc.requests(target.known), label=rpc.name))
    raw_rpc = data.draw(st.sampled_from(RPCS), label="raw rpc")
    await check(target, raw_rpc, data.draw(raw_requests, label="raw bytes"))


def test_the_fuzz_test_covers_every_rpc_of_both_services() -> None:
    declared = {
        (service.name, method.name)
        for module in (hpb, rpb)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert {(rpc.service, rpc.name) for rpc in RPCS} == declared
