"""The `http` node type: one request through the runner's shared httpx client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.schema import (
    INVALID_CONFIG,
    ConfigCheck,
    is_integer,
    is_template,
    number_setting,
)
from resumeflow_core.templates import TemplateError, TemplateLimitError, evaluate

DEFAULT_TIMEOUT = 30.0  # seconds
BODY_EXCERPT_CHARS = 200
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KEYS = (
    "method",
    "url",
    "headers",
    "query",
    "body",
    "timeout",
    "expected_status",
    "extract",
)

HTTP_STATUS = "HTTP_STATUS"
HTTP_ERROR = "HTTP_ERROR"
EXTRACT_FAILED = "EXTRACT_FAILED"


class HttpNode(NodeType):
    """Sends one request; output `{"status_code", "headers", "body"}` (body parsed when JSON).

    `extract` maps variable names to expressions evaluated with `response` (the output) in scope.
    """

    name = "http"
    late_keys = frozenset({"extract"})

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = ConfigCheck(config, KEYS, expression_keys=self.late_keys)
        check.string("method", choices=METHODS)
        check.string("url", required=True)
        check.mapping("headers")
        check.mapping("query")
        check.number("timeout", minimum=0, exclusive=True)
        _check_expected_status(check)
        for name, expression in check.mapping("extract", names=True).items():
            if not isinstance(expression, str):  # strings get their syntax checked
                check.add(f"extract.{name}", "must be an expression")
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        config = call.config
        method = str(config.get("method") or "GET").upper()
        url = config.get("url")
        if not isinstance(url, str) or not url:
            raise NodeFailure(INVALID_CONFIG, f"url must be a non-empty string, got {url!r}")
        response = await _send(call.http, method, url, config)
        output = {
            "status_code": response.status_code,
            "headers": dict(response.headers.items()),
            "body": _body(response),
        }
        _check_status(method, url, response, _expected(config.get("expected_status")))
        return NodeOutcome(output=output, variables=_extract(call, output))


async def _send(
    client: httpx.AsyncClient, method: str, url: str, config: Mapping[str, Any]
) -> httpx.Response:
    """Send the request.

    Raises:
        NodeFailure: HTTP_ERROR when no response arrives (connection, timeout, bad URL).
    """
    timeout = number_setting(config, "timeout", DEFAULT_TIMEOUT)
    options: dict[str, Any] = {
        "headers": _stringify(config.get("headers"), "headers"),
        "params": _query(config.get("query")),
        "timeout": timeout,
    }
    if config.get("body") is not None:
        options["json"] = config["body"]
    try:
        return await client.request(method, url, **options)
    except httpx.TimeoutException as exc:
        raise NodeFailure(HTTP_ERROR, f"{method} {url} timed out after {timeout:g} s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise NodeFailure(HTTP_ERROR, f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc


def _stringify(values: Any, key: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise NodeFailure(INVALID_CONFIG, f"{key} must be a mapping")
    return {str(name): _text(value) for name, value in values.items()}


def _query(values: Any) -> dict[str, Any] | None:
    if not values:
        return None
    if not isinstance(values, Mapping):
        raise NodeFailure(INVALID_CONFIG, "query must be a mapping")
    return {
        str(name): [_text(item) for item in value] if isinstance(value, list) else _text(value)
        for name, value in values.items()
    }


def _text(value: Any) -> str:
    # Numbers that went through a protobuf Struct are floats: page=2, not page=2.0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _body(response: httpx.Response) -> Any:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return response.json()
        except ValueError:
            pass  # a server lying about its content type: keep the text
    return response.text


def _expected(value: Any) -> frozenset[int] | None:
    """The accepted status codes; None means any 2xx."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        codes = frozenset(int(code) for code in values if not isinstance(code, bool))
    except (TypeError, ValueError):
        codes = frozenset()
    if len(codes) != len(values) or not codes:
        raise NodeFailure(
            INVALID_CONFIG,
            f"expected_status must be a status code or a list of them, got {value!r}",
        )
    return codes


def _check_status(method: str, url: str, response: httpx.Response, expected: frozenset[int] | None) -> None:
    status = response.status_code
    if (200 <= status < 300) if expected is None else status in expected:
        return
    wanted = "2xx" if expected is None else " or ".join(str(code) for code in sorted(expected))
    message = f"{method} {url} returned {status}, expected {wanted}"
    excerpt = " ".join(response.text.split())[:BODY_EXCERPT_CHARS]
    raise NodeFailure(HTTP_STATUS, f"{message}: {excerpt}" if excerpt else message)


def _extract(call: NodeCall, output: dict[str, Any]) -> dict[str, Any]:
    extract = call.config.get("extract") or {}
    variables = {}
    for name, expression in extract.items():
        try:
            variables[name] = evaluate(expression, call.context, {"response": output})
        except TemplateLimitError as exc:
            exc.path = f"extract.{name}"
            raise  # TEMPLATE_LIMIT, like every other template over a limit
        except TemplateError as exc:
            raise NodeFailure(EXTRACT_FAILED, f"extract {name!r}: {exc.message}") from exc
    return variables


def _check_expected_status(check: ConfigCheck) -> None:
    value = check.value("expected_status", required=False)
    if value is None or is_template(value):
        return
    codes = value if isinstance(value, list) else [value]
    if not codes or not all(is_integer(code) and 100 <= code <= 599 for code in codes):
        check.add(
            "expected_status",
            "must be a status code (100-599) or a non-empty list of them",
        )
