"""Hostile templates through both services: refused or failed TEMPLATE_LIMIT, health answered meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from integration_helpers import Services, edge, node, struct, workflow

from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus

GENEROUS = 5.0
"""Seconds a hostile call may take before the test calls it hung (they take milliseconds)."""
HEALTH_DEADLINE = 0.5
"""Deadline of each health check made meanwhile: not a speed assertion, a 'not blocked' one."""

RUNTIME_PAYLOADS = [
    pytest.param("{{ (vars.nine ** (vars.nine ** 7 * 6)) > 1 }}", "MAX_TEMPLATE_INTEGER_BITS", id="pow-vars"),
    pytest.param("{{ vars.s * vars.n }}", "MAX_TEMPLATE_VALUE_CHARS", id="str-times-vars"),
    pytest.param("{{ 'x'.ljust(10**9) }}", "MAX_TEMPLATE_VALUE_CHARS", id="ljust"),
    pytest.param("{{ '%0*d' % (vars.n, 1) }}", "MAX_TEMPLATE_VALUE_CHARS", id="printf-star-width"),
    pytest.param("{{ '{:>999999999}'.format(1) }}", "MAX_TEMPLATE_VALUE_CHARS", id="format-width"),
    pytest.param("{{ range(10**10)|list }}", "MAX_TEMPLATE_ITEMS", id="range"),
    pytest.param(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "MAX_TEMPLATE_SECONDS",
        id="nested-for",
    ),
    pytest.param(
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "MAX_TEMPLATE_VALUE_CHARS",
        id="concat-loop",
    ),
]

STATIC_PAYLOADS = [
    pytest.param("{{ (9 ** (9 ** 7 * 6)) > 1 }}", "MAX_TEMPLATE_INTEGER_BITS", id="pow-constant"),
    pytest.param("{{ 'a' * 10**8 }}", "MAX_TEMPLATE_VALUE_CHARS", id="str-times-constant"),
    pytest.param("{{ [1] * 10**9 }}", "MAX_TEMPLATE_VALUE_CHARS", id="list-times-constant"),
    pytest.param("{{ '%0999999999d' % 1 }}", "MAX_TEMPLATE_VALUE_CHARS", id="printf-width"),
]


def hostile_workflow(workflow_id: str, template: str, node_type: str = "set") -> Any:
    config: dict[str, Any] = {"values": {"x": template}}
    if node_type == "condition":
        config = {"expression": template}
    return workflow(
        workflow_id,
        [node("start", "start"), node("evil", node_type, **config), node("end", "end")],
        [edge("start", "evil"), edge("evil", "end", "true" if node_type == "condition" else "")],
    )


async def while_checking_health(services: Services, hostile: Awaitable[Any]) -> Any:
    """Await `hostile` while both services are health-checked every few milliseconds.

    Returns:
        What `hostile` returned (or the RpcError it raised).
    Raises:
        AssertionError: A health check missed its deadline or was not SERVING.
    """
    stop = asyncio.Event()
    checks = 0

    async def check_health() -> None:
        nonlocal checks
        stubs = [health_pb2_grpc.HealthStub(c) for c in (services.runner_channel, services.history_channel)]
        while not stop.is_set() or checks < 2:
            for stub in stubs:
                response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=HEALTH_DEADLINE)
                assert response.status == health_pb2.HealthCheckResponse.SERVING
                checks += 1
            await asyncio.sleep(0.005)

    async def attack() -> Any:
        try:
            return await asyncio.wait_for(hostile, GENEROUS)
        except grpc.aio.AioRpcError as error:
            return error
        finally:
            stop.set()

    result, _ = await asyncio.gather(attack(), check_health())
    return result


def violations(error: grpc.aio.AioRpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    status = rpc_status.from_call(error)
    assert status is not None
    found = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            found.extend(bad_request.field_violations)
    return found


@pytest.mark.parametrize(("template", "limit"), STATIC_PAYLOADS)
async def test_put_workflow_refuses_constant_arithmetic_over_a_limit(
    services: Services, template: str, limit: str
) -> None:
    result = await while_checking_health(services, services.put(hostile_workflow("evil", template)))

    assert isinstance(result, grpc.aio.AioRpcError)
    assert result.code() == grpc.StatusCode.INVALID_ARGUMENT
    [violation] = violations(result)
    assert violation.field == "workflow.nodes[1].config.values.x"
    assert violation.reason == "TEMPLATE_LIMIT"
    assert limit in violation.description


@pytest.mark.parametrize(("template", "limit"), RUNTIME_PAYLOADS)
async def test_a_run_fails_the_node_template_limit_and_the_services_stay_responsive(
    services: Services, template: str, limit: str
) -> None:
    await services.put(hostile_workflow("evil", template))  # nothing constant to refuse: accepted
    request = rpb.RunWorkflowRequest(workflow_id="evil", inputs=struct(nine=9, s="ab", n=10**9))

    messages = await while_checking_health(services, services.run(request))

    assert not isinstance(messages, BaseException)
    run = await services.get_run(messages[0].accepted.run.id)
    assert run.status == RS.RUN_STATUS_FAILED
    evil = next(r for r in run.node_results if r.node_id == "evil")
    assert evil.status == NS.NODE_STATUS_FAILED
    assert evil.error.code == "TEMPLATE_LIMIT"
    assert limit in evil.error.message and evil.error.message.startswith("values.x: ")


async def test_a_condition_over_a_limit_fails_template_limit_naming_its_key(services: Services) -> None:
    await services.put(hostile_workflow("evil", "{{ (vars.nine ** (vars.nine ** 7 * 6)) > 1 }}", "condition"))
    request = rpb.RunWorkflowRequest(workflow_id="evil", inputs=struct(nine=9))

    messages = await while_checking_health(services, services.run(request))

    run = await services.get_run(messages[0].accepted.run.id)
    evil = next(r for r in run.node_results if r.node_id == "evil")
    assert evil.error.code == "TEMPLATE_LIMIT"
    assert evil.error.message.startswith("expression: ")
    assert "MAX_TEMPLATE_INTEGER_BITS" in evil.error.message


async def test_put_workflow_with_hundreds_of_templates_leaves_the_history_responsive(
    services: Services,
) -> None:
    values = {
        f"v{i}": f"{{{{ vars.a{i} | default('x') }}}} {{{{ nodes.n{i}.body.t{i} }}}}" for i in range(500)
    }
    many = workflow(
        "many",
        [node("start", "start"), node("set", "set", values=values), node("end", "end")],
        [("start", "set"), ("set", "end")],
    )

    stored = await while_checking_health(services, services.put(many))

    assert not isinstance(stored, BaseException) and stored.version == 1
