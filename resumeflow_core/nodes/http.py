"""The `http` node type: one request through the runner's shared, policy-checked httpx client.

Failure messages never quote the rendered URL, headers or body: they may hold a secret, or a
fragment of one that no redactor can recognise. A message names the request by its method and its
`url` as the workflow wrote it (`GET {{ env.api }}/orders`), and the config key at fault.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.http_transport import os_reason
from resumeflow_core.nodes.response_body import (
    BodyDecodingError,
    ResponseTooLargeError,
    read_capped,
)
from resumeflow_core.nodes.schema import (
    ConfigCheck,
    is_integer,
    is_template,
)
from resumeflow_core.reasons import (
    EXTRACT_FAILED,
    HTTP_ERROR,
    HTTP_STATUS,
    INVALID_CONFIG,
    RESPONSE_TOO_LARGE,
    TIMEOUT,
)
from resumeflow_core.templates import TemplateError, TemplateLimitError, evaluate

DEFAULT_TIMEOUT = 30.0  # seconds, for the whole request: connecting, sending, the headers and the body
DEFAULT_MAX_REDIRECTS = 10
MAX_REDIRECTS_LIMIT = 20
SAME_ORIGIN = "same-origin"
"""The default of `follow_redirects`: follow a redirect only to the same scheme, host and port."""
BODY_EXCERPT_CHARS = 200
URL_CHARS = 200  # of the url as written, in failure messages
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
    "max_response_bytes",
    "follow_redirects",
    "max_redirects",
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_PHRASES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.UnsupportedProtocol, "config.url must start with http:// or https://"),
    (httpx.ConnectError, "could not connect"),
    (httpx.LocalProtocolError, "the request is not valid HTTP (check config.headers)"),
    (httpx.RemoteProtocolError, "the server broke the HTTP protocol"),
    (httpx.ReadError, "the connection broke while reading the response"),
    (httpx.WriteError, "the connection broke while sending the request"),
)
"""How a failure is described: in fixed words, since httpx's messages may quote the request."""


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
        # The runner's cap is not known where workflows are stored: the runner checks it.
        check.integer("max_response_bytes", minimum=1)
        check.integer("max_redirects", minimum=0, maximum=MAX_REDIRECTS_LIMIT)
        follow = check.value("follow_redirects", required=False)
        if not (follow is None or isinstance(follow, bool) or follow == SAME_ORIGIN or is_template(follow)):
            check.add("follow_redirects", f"must be true, false or {SAME_ORIGIN!r}, or a template")
        _check_expected_status(check)
        for name, expression in check.mapping("extract", names=True).items():
            if not isinstance(expression, str):  # strings get their syntax checked
                check.add(f"extract.{name}", "must be an expression")
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        spec = _Spec.of(call)
        expected = _expected(call.config.get("expected_status"))
        response, body = await _fetch(call, spec)
        output = {
            "status_code": response.status_code,
            "headers": dict(response.headers.items()),
            "body": _parse(response, body),
        }
        _check_status(spec, response, body, expected)
        return NodeOutcome(output=output, variables=_extract(call, output))


@dataclass(frozen=True)
class _Spec:
    """The rendered settings of one request, except what goes into the request itself."""

    method: str
    target: str
    """How failure messages name the request: the method and the url as written."""
    timeout: float
    limit: int
    limit_key: str
    """Where `limit` comes from, for RESPONSE_TOO_LARGE messages."""
    follow: bool | str
    """True (any destination the policy allows), False, or SAME_ORIGIN."""
    max_redirects: int

    @classmethod
    def of(cls, call: NodeCall) -> _Spec:
        """Raises: NodeFailure: INVALID_CONFIG for a setting that rendered to a bad value."""
        config = call.config
        written = call.node.config.get("url")
        shown = written if isinstance(written, str) else "config.url"
        shown = shown if len(shown) <= URL_CHARS else shown[: URL_CHARS - 1] + "…"
        method = str(config.get("method") or "GET").upper()
        if method not in METHODS:
            raise NodeFailure(INVALID_CONFIG, f"config.method must be one of {', '.join(sorted(METHODS))}")
        cap = call.http_settings.max_response_bytes
        limit = _whole(config, "max_response_bytes", cap, minimum=1)
        if limit > cap:
            raise NodeFailure(
                INVALID_CONFIG,
                f"config.max_response_bytes: {limit} is over this runner's cap of {cap} bytes "
                "(--http-max-response-bytes)",
            )
        return cls(
            method=method,
            target=f"{method} {shown}",
            timeout=_seconds(config.get("timeout", DEFAULT_TIMEOUT)),
            limit=limit,
            limit_key="config.max_response_bytes"
            if "max_response_bytes" in config
            else "--http-max-response-bytes",
            follow=_follow(config.get("follow_redirects")),
            max_redirects=_whole(config, "max_redirects", DEFAULT_MAX_REDIRECTS, minimum=0),
        )


async def _fetch(call: NodeCall, spec: _Spec) -> tuple[httpx.Response, bytes]:
    """Send the request, follow the redirects `spec` allows, read the body; all within the timeout.

    Raises:
        NodeFailure: (1) TIMEOUT when the whole exchange outlives `config.timeout`;
            (2) RESPONSE_TOO_LARGE when the decoded body passes its cap;
            (3) DESTINATION_DENIED (before connecting), INVALID_CONFIG, or HTTP_ERROR for too many
            redirects, with the request named; (4) HTTP_ERROR when no usable response arrives.
    """
    try:
        # One deadline over everything: httpx's timeouts bound each read, not the request.
        async with asyncio.timeout(spec.timeout):
            return await _exchange(call.http, _request(call, spec), spec)
    except (TimeoutError, httpx.TimeoutException) as exc:  # case (1)
        raise NodeFailure(
            TIMEOUT, f"{spec.target} timed out after {spec.timeout:g} s (config.timeout)"
        ) from exc
    except ResponseTooLargeError as exc:  # case (2)
        raise NodeFailure(
            RESPONSE_TOO_LARGE,
            f"{spec.target}: the response body is larger than {exc.limit} bytes ({spec.limit_key})",
        ) from exc
    except NodeFailure as exc:  # case (3)
        raise NodeFailure(exc.code, f"{spec.target}: {exc.message}") from exc
    except (httpx.HTTPError, httpx.InvalidURL, BodyDecodingError) as exc:  # case (4)
        raise NodeFailure(HTTP_ERROR, f"{spec.target} failed: {_describe(exc)}") from exc


def _request(call: NodeCall, spec: _Spec) -> httpx.Request:
    config = call.config
    url = config.get("url")
    if not isinstance(url, str) or not url:
        raise NodeFailure(INVALID_CONFIG, "config.url must render to a non-empty string")
    options: dict[str, Any] = {
        "headers": _headers(config.get("headers")),
        "params": _query(config.get("query")),
        "timeout": spec.timeout,
    }
    if config.get("body") is not None:
        options["json"] = config["body"]
    return call.http.build_request(spec.method, url, **options)


async def _exchange(
    client: httpx.AsyncClient, request: httpx.Request, spec: _Spec
) -> tuple[httpx.Response, bytes]:
    """Send `request` and the redirects `spec` allows, each through the policy-checked client."""
    hops = 0
    while True:
        response = await client.send(request, stream=True)
        try:
            redirect = response.next_request
            if redirect is None or not _may_follow(spec.follow, request.url, redirect.url):
                return response, await _read(response, spec.limit)
        finally:
            await response.aclose()
        hops += 1
        if hops > spec.max_redirects:
            raise NodeFailure(HTTP_ERROR, f"more than {spec.max_redirects} redirects (config.max_redirects)")
        request = redirect


async def _read(response: httpx.Response, limit: int) -> bytes:
    encoding = response.headers.get("content-encoding", "")
    declared = response.headers.get("content-length", "")
    if not encoding and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLargeError(limit)  # said up front: not worth reading
    return await read_capped(response.aiter_raw(), encoding, limit)


def _may_follow(follow: bool | str, origin: httpx.URL, target: httpx.URL) -> bool:
    if follow != SAME_ORIGIN:
        return bool(follow)
    return _origin(origin) == _origin(target)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _follow(value: Any) -> bool | str:
    if value is None:
        return SAME_ORIGIN
    if isinstance(value, bool):
        return value
    if value == SAME_ORIGIN:
        return SAME_ORIGIN
    raise NodeFailure(INVALID_CONFIG, f"config.follow_redirects must be true, false or {SAME_ORIGIN!r}")


def _seconds(value: Any) -> float:
    try:
        seconds = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        # The value is not quoted: it may have been rendered from a secret.
        raise NodeFailure(INVALID_CONFIG, "config.timeout must be a number of seconds greater than 0")
    return seconds


def _whole(config: Mapping[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = config.get(key, default)
    if not is_integer(value) or value < minimum:
        raise NodeFailure(INVALID_CONFIG, f"config.{key} must be a whole number of at least {minimum}")
    return int(value)


def _headers(values: Any) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise NodeFailure(INVALID_CONFIG, "config.headers must be a mapping")
    headers = {str(name): _text(value) for name, value in values.items()}
    for name, value in headers.items():
        # Names are keys of the definition, never rendered: naming one quotes nothing secret.
        if not value.isascii() or "\r" in value or "\n" in value:
            raise NodeFailure(INVALID_CONFIG, f"config.headers.{name} must be ASCII text without line breaks")
    return headers


def _query(values: Any) -> dict[str, Any] | None:
    if not values:
        return None
    if not isinstance(values, Mapping):
        raise NodeFailure(INVALID_CONFIG, "config.query must be a mapping")
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


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.InvalidURL):
        # httpx's messages start with fixed words ("Invalid port: '…'"): keep only those.
        words = re.match(r"[A-Za-z0-9 ]*", str(exc))
        return f"config.url: {(words.group().strip() if words else '').lower() or 'not a valid URL'}"
    if isinstance(exc, BodyDecodingError):
        return str(exc)
    phrase = next((text for kind, text in _PHRASES if isinstance(exc, kind)), type(exc).__name__)
    reason = os_reason(exc)
    return f"{phrase} ({reason})" if reason else phrase


def _decoded(response: httpx.Response, body: bytes) -> str:
    try:
        return body.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _parse(response: httpx.Response, body: bytes) -> Any:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.loads(body)
        except ValueError:
            pass  # a server lying about its content type: keep the text
    return _decoded(response, body)


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
            "config.expected_status must be a status code or a list of them",
        )
    return codes


def _check_status(
    spec: _Spec, response: httpx.Response, body: bytes, expected: frozenset[int] | None
) -> None:
    status = response.status_code
    if (200 <= status < 300) if expected is None else status in expected:
        return
    wanted = "2xx" if expected is None else " or ".join(str(code) for code in sorted(expected))
    message = f"{spec.target} returned {status}, expected {wanted}"
    if response.next_request is not None:
        message += f" (a redirect not followed: config.follow_redirects is {spec.follow!r})"
    excerpt = " ".join(_decoded(response, body[: BODY_EXCERPT_CHARS * 4]).split())[:BODY_EXCERPT_CHARS]
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
