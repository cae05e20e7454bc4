"""Built-in node types: config validation listing every problem, and execution (http on a real server)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.builtin import (
    BUILTIN_TYPES,
    AssertNode,
    ConditionNode,
    DelayNode,
    EndNode,
    HttpNode,
    NoopNode,
    SetNode,
    StartNode,
)
from resumeflow_core.nodes.destinations import DestinationPolicy
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.nodes.http_transport import open_http_client
from resumeflow_core.nodes.registry import default_registry
from resumeflow_core.templates import TemplateContext, TemplateError, render
from resumeflow_core.workflow import Node


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with open_http_client(DestinationPolicy()) as client:
        yield client


async def execute(
    node_type: NodeType,
    config: Mapping[str, Any],
    *,
    context: TemplateContext | None = None,
    http: httpx.AsyncClient | None = None,
    settings: HttpSettings | None = None,
) -> NodeOutcome:
    """Run one attempt the way the executor does: render every key but the late ones first."""
    context = context or TemplateContext()
    rendered = render({k: v for k, v in config.items() if k not in node_type.late_keys}, context)
    rendered.update({k: v for k, v in config.items() if k in node_type.late_keys})
    node = Node("n", node_type.name, config=config)
    # Only http nodes touch the client; the others get a stand-in rather than an unclosed client.
    client = http or cast(httpx.AsyncClient, None)
    return await node_type.execute(NodeCall(node, rendered, 1, context, client, settings or HttpSettings()))


async def failing(node_type: NodeType, config: Mapping[str, Any], **options: Any) -> NodeFailure:
    with pytest.raises(NodeFailure) as caught:
        await execute(node_type, config, **options)
    return caught.value


def paths(problems: list[tuple[str, str]]) -> list[str]:
    return [path for path, _ in problems]


# --- registry ------------------------------------------------------------------------------------


def test_the_default_registry_has_every_built_in_type() -> None:
    names = default_registry().names()

    assert {
        "start",
        "end",
        "noop",
        "delay",
        "set",
        "assert",
        "condition",
        "http",
    } <= set(names)
    assert len({cls.name for cls in BUILTIN_TYPES}) == len(BUILTIN_TYPES)


# --- config validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_type", "config"),
    [
        pytest.param(StartNode(), {}, id="start"),
        pytest.param(EndNode(), {}, id="end"),
        pytest.param(NoopNode(), {}, id="noop"),
        pytest.param(DelayNode(), {"seconds": 0}, id="delay"),
        pytest.param(DelayNode(), {"seconds": "{{ vars.wait }}"}, id="delay-template"),
        pytest.param(SetNode(), {"values": {"a": 1, "b": "{{ vars.a }}", "_c": [1]}}, id="set"),
        pytest.param(
            AssertNode(),
            {"assertions": ["vars.a == 1", "{{ vars.b }}", True]},
            id="assert",
        ),
        pytest.param(ConditionNode(), {"expression": "vars.a > 1"}, id="condition"),
        pytest.param(HttpNode(), {"url": "{{ env.base }}/x"}, id="http-minimal"),
        pytest.param(
            HttpNode(),
            {
                "method": "post",
                "url": "https://x.test",
                "headers": {"A": "b"},
                "query": {"q": 1},
                "body": {"any": ["json"]},
                "timeout": 2.5,
                "expected_status": [200, 201.0],
                "extract": {"token": "response.body.token"},
            },
            id="http-full",
        ),
        pytest.param(
            HttpNode(),
            {"url": "https://x.test", "expected_status": 204.0},
            id="http-struct-float-status",
        ),
    ],
)
def test_valid_configs_have_no_problems(node_type: NodeType, config: dict[str, Any]) -> None:
    assert node_type.validate_config(config) == []


def test_http_config_validation_lists_every_problem() -> None:
    config = {
        "method": "FETCH",
        "headers": ["not", "a", "mapping"],
        "query": "q=1",
        "timeout": 0,
        "expected_status": [200, 700],
        "extract": {"bad-name": "response.body", "empty": ""},
        "body": {"x": "{{ vars.a "},
        "retries": 3,
    }

    problems = HttpNode().validate_config(config)

    assert sorted(paths(problems)) == sorted(
        [
            "retries",
            "body.x",
            "method",
            "url",
            "headers",
            "query",
            "timeout",
            "expected_status",
            "extract.bad-name",
            "extract.empty",
        ]
    )
    assert ("url", "is required") in problems


def test_an_extract_expression_with_a_syntax_error_is_reported() -> None:
    problems = HttpNode().validate_config({"url": "https://x.test", "extract": {"a": "response.body ==="}})

    assert paths(problems) == ["extract.a"]


@pytest.mark.parametrize(
    ("node_type", "config", "expected"),
    [
        pytest.param(StartNode(), {"x": 1}, ["x"], id="start-unknown-key"),
        pytest.param(NoopNode(), "not a mapping", [""], id="noop-not-a-mapping"),
        pytest.param(DelayNode(), {}, ["seconds"], id="delay-missing"),
        pytest.param(DelayNode(), {"seconds": -1}, ["seconds"], id="delay-negative"),
        pytest.param(DelayNode(), {"seconds": "soon"}, ["seconds"], id="delay-text"),
        pytest.param(DelayNode(), {"seconds": True}, ["seconds"], id="delay-bool"),
        pytest.param(SetNode(), {}, ["values"], id="set-missing"),
        pytest.param(SetNode(), {"values": [1]}, ["values"], id="set-not-a-mapping"),
        pytest.param(
            SetNode(),
            {"values": {"ok": 1, "not ok": 2, "1st": 3}},
            ["values.not ok", "values.1st"],
            id="set-bad-names",
        ),
        pytest.param(
            SetNode(),
            {"values": {"a": "{{ oops"}},
            ["values.a"],
            id="set-template-syntax",
        ),
        pytest.param(AssertNode(), {}, ["assertions"], id="assert-missing"),
        pytest.param(AssertNode(), {"assertions": []}, ["assertions"], id="assert-empty"),
        pytest.param(
            AssertNode(),
            {"assertions": "vars.a"},
            ["assertions"],
            id="assert-not-a-list",
        ),
        pytest.param(
            AssertNode(),
            {"assertions": ["vars.a", 3, "vars.b =="]},
            ["assertions[2]", "assertions[1]"],
            id="assert-bad-items",
        ),
        pytest.param(ConditionNode(), {}, ["expression"], id="condition-missing"),
        pytest.param(
            ConditionNode(),
            {"expression": "vars.a >"},
            ["expression"],
            id="condition-syntax",
        ),
        pytest.param(ConditionNode(), {"expression": " "}, ["expression"], id="condition-blank"),
        pytest.param(
            ConditionNode(),
            {"expression": 3},
            ["expression"],
            id="condition-not-an-expression",
        ),
    ],
)
def test_config_problems_are_reported_with_their_key(
    node_type: NodeType, config: Any, expected: list[str]
) -> None:
    assert paths(node_type.validate_config(config)) == expected


# --- control and data nodes ----------------------------------------------------------------------


@pytest.mark.parametrize("node_type", [StartNode(), EndNode(), NoopNode()], ids=["start", "end", "noop"])
async def test_marker_nodes_output_nothing(node_type: NodeType) -> None:
    assert await execute(node_type, {}) == NodeOutcome()


async def test_delay_waits_the_rendered_number_of_seconds() -> None:
    began = time.monotonic()

    outcome = await execute(
        DelayNode(),
        {"seconds": "{{ vars.wait }}"},
        context=TemplateContext(vars={"wait": 0.05}),
    )

    assert time.monotonic() - began >= 0.05
    assert outcome.output == {"seconds": 0.05}


async def test_delay_fails_cleanly_when_the_template_renders_a_non_number() -> None:
    failure = await failing(
        DelayNode(),
        {"seconds": "{{ vars.wait }}"},
        context=TemplateContext(vars={"wait": "x"}),
    )

    assert failure.code == "INVALID_CONFIG" and "seconds" in failure.message


async def test_set_outputs_and_writes_its_rendered_values() -> None:
    context = TemplateContext(vars={"name": "ada"})

    outcome = await execute(
        SetNode(),
        {"values": {"greeting": "hi {{ vars.name }}", "n": "{{ 1 + 1 }}"}},
        context=context,
    )

    assert outcome.output == {"greeting": "hi ada", "n": 2}
    assert outcome.variables == {"greeting": "hi ada", "n": 2}


async def test_assert_passes_when_every_expression_holds() -> None:
    context = TemplateContext(vars={"a": 1, "b": "x"})

    outcome = await execute(
        AssertNode(),
        {"assertions": ["vars.a == 1", "{{ vars.b == 'x' }}"]},
        context=context,
    )

    assert outcome.output == {"passed": 2}


async def test_assert_fails_on_the_first_falsy_expression_naming_it() -> None:
    context = TemplateContext(vars={"a": 1})

    failure = await failing(
        AssertNode(),
        {"assertions": ["vars.a == 1", "vars.a > 5", "vars.nope"]},
        context=context,
    )

    assert failure.code == "ASSERTION_FAILED"
    assert failure.message == "assertion 2 failed: vars.a > 5"


async def test_assert_on_an_undefined_name_is_a_template_error_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"'vars\.nope' is undefined"):
        await execute(AssertNode(), {"assertions": ["vars.nope"]})


@pytest.mark.parametrize(
    ("count", "branch"),
    [pytest.param(3, "true", id="true"), pytest.param(0, "false", id="false")],
)
async def test_condition_chooses_a_branch(count: int, branch: str) -> None:
    outcome = await execute(
        ConditionNode(),
        {"expression": "vars.count > 0"},
        context=TemplateContext(vars={"count": count}),
    )

    assert outcome.branch == branch
    assert outcome.output == {"value": branch == "true", "branch": branch}


# --- http ----------------------------------------------------------------------------------------


async def test_http_get_returns_status_headers_and_parsed_json(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request(
        "/users/7",
        method="GET",
        query_string="verbose=1&page=2",
        headers={"Authorization": "Bearer k-1"},
    ).respond_with_json({"id": 7, "name": "ada"}, headers={"X-Trace": "t-9"})
    context = TemplateContext(env={"base": httpserver.url_for("")}, secrets={"key": "k-1"}, vars={"id": 7})
    config = {
        "url": "{{ env.base }}users/{{ vars.id }}",
        "headers": {"Authorization": "Bearer {{ secrets.key }}"},
        "query": {"verbose": 1, "page": 2.0},
    }

    outcome = await execute(HttpNode(), config, context=context, http=http)

    assert outcome.output["status_code"] == 200
    assert outcome.output["body"] == {"id": 7, "name": "ada"}
    assert outcome.output["headers"]["x-trace"] == "t-9"
    assert outcome.output["headers"]["content-type"] == "application/json"


async def test_http_post_sends_the_rendered_body_as_json(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/orders", method="POST", json={"user": 7, "items": ["a"]}).respond_with_json(
        {"order": 1}, status=201
    )
    config = {
        "method": "post",
        "url": httpserver.url_for("/orders"),
        "body": {"user": "{{ vars.id }}", "items": ["a"]},
        "expected_status": 201,
    }

    outcome = await execute(HttpNode(), config, context=TemplateContext(vars={"id": 7}), http=http)

    assert outcome.output["status_code"] == 201 and outcome.output["body"] == {"order": 1}


async def test_http_keeps_a_non_json_body_as_text(httpserver: HTTPServer, http: httpx.AsyncClient) -> None:
    httpserver.expect_request("/text").respond_with_data("plain words", content_type="text/plain")

    outcome = await execute(HttpNode(), {"url": httpserver.url_for("/text")}, http=http)

    assert outcome.output["body"] == "plain words"


async def test_an_unexpected_status_fails_with_the_status_and_a_body_excerpt(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/missing").respond_with_data("no such\n  order " + "x" * 500, status=404)

    failure = await failing(HttpNode(), {"url": httpserver.url_for("/missing")}, http=http)

    assert failure.code == "HTTP_STATUS"
    assert "returned 404, expected 2xx: no such order xxx" in failure.message
    assert len(failure.message) < 400


@pytest.mark.parametrize(
    ("expected_status", "status", "ok"),
    [
        pytest.param([200, 404], 404, True, id="listed"),
        pytest.param(404.0, 404, True, id="struct-float"),
        pytest.param(201, 200, False, id="2xx-not-enough-when-one-is-named"),
        pytest.param(None, 204, True, id="default-any-2xx"),
    ],
)
async def test_expected_status(
    httpserver: HTTPServer,
    http: httpx.AsyncClient,
    expected_status: Any,
    status: int,
    ok: bool,
) -> None:
    httpserver.expect_request("/s").respond_with_data("", status=status)
    config: dict[str, Any] = {"url": httpserver.url_for("/s")}
    if expected_status is not None:
        config["expected_status"] = expected_status

    if ok:
        assert (await execute(HttpNode(), config, http=http)).output["status_code"] == status
    else:
        assert (await failing(HttpNode(), config, http=http)).code == "HTTP_STATUS"


async def test_extract_writes_variables_from_the_response(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/login").respond_with_json({"token": "abc", "user": {"id": 7}})
    config = {
        "url": httpserver.url_for("/login"),
        "extract": {
            "token": "response.body.token",
            "user_id": "{{ response.body.user.id }}",
            "ok": "response.status_code == 200",
        },
    }

    outcome = await execute(HttpNode(), config, http=http)

    assert outcome.variables == {"token": "abc", "user_id": 7, "ok": True}


async def test_a_failing_extract_fails_with_extract_failed_naming_the_path(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/login").respond_with_json({"user": {}})
    config = {
        "url": httpserver.url_for("/login"),
        "extract": {"token": "response.body.token"},
    }

    failure = await failing(HttpNode(), config, http=http)

    assert failure.code == "EXTRACT_FAILED"
    assert failure.message == "extract 'token': 'response.body.token' is undefined"


async def test_a_connection_error_fails_with_http_error(
    http: httpx.AsyncClient,
) -> None:
    failure = await failing(HttpNode(), {"url": "http://127.0.0.1:9/unreachable", "timeout": 2}, http=http)

    assert failure.code == "HTTP_ERROR" and "GET http://127.0.0.1:9/unreachable failed" in failure.message


async def test_a_request_timeout_fails_with_timeout(httpserver: HTTPServer, http: httpx.AsyncClient) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)

    failure = await failing(HttpNode(), {"url": httpserver.url_for("/slow"), "timeout": 0.1}, http=http)

    assert failure.code == "TIMEOUT" and "timed out after 0.1 s (config.timeout)" in failure.message


async def test_a_bad_url_fails_with_http_error(http: httpx.AsyncClient) -> None:
    failure = await failing(HttpNode(), {"url": "not a url"}, http=http)

    assert failure.code == "HTTP_ERROR"
