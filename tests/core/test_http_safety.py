"""The http node against hostile servers and destinations, on loopback servers only (127.0.0.0/8).

Size caps (decoded too), the whole-request timeout, redirects, the destination policy checked at
connect time, and failure messages that never quote the rendered URL or headers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpcore
import pytest
from loopback import fixed, gzip_bomb, redirect, serve, streamed, trickle

from resumeflow_core.nodes.base import NodeCall, NodeFailure
from resumeflow_core.nodes.destinations import DestinationPolicy
from resumeflow_core.nodes.http import HttpNode
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.nodes.http_transport import CheckedBackend, open_http_client
from resumeflow_core.templates import TemplateContext, render
from resumeflow_core.workflow import Node

MIB = 1024 * 1024
SECRET = "Zm9v+YmFy/c2Vj=cmV0"


async def attempt(
    config: Mapping[str, Any],
    *,
    policy: DestinationPolicy | None = None,
    cap: int = MIB,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One attempt through a policy-checked client, rendered as the executor renders it."""
    settings = HttpSettings(max_response_bytes=cap, policy=policy or DestinationPolicy())
    context = TemplateContext(secrets=dict(secrets or {}))
    node = Node("n", "http", config=dict(config))
    async with open_http_client(settings.policy) as client:
        call = NodeCall(node, render(dict(config), context), 1, context, client, settings)
        outcome = await HttpNode().execute(call)
    assert isinstance(outcome.output, dict)
    return outcome.output


async def failure(config: Mapping[str, Any], **options: Any) -> NodeFailure:
    with pytest.raises(NodeFailure) as caught:
        await attempt(config, **options)
    return caught.value


# --- size ----------------------------------------------------------------------------------------


async def test_a_body_over_the_runner_cap_fails_response_too_large_naming_the_cap() -> None:
    async with serve(streamed(8 * MIB)) as server:
        failed = await failure({"url": server.url("/big")}, cap=MIB)

    assert failed.code == "RESPONSE_TOO_LARGE"
    assert failed.message == f"GET {server.url('/big')}: the response body is larger than {MIB} bytes " + (
        "(--http-max-response-bytes)"
    )


async def test_a_declared_length_over_the_cap_fails_before_reading() -> None:
    async with serve(fixed(200, b"x" * 5000)) as server:
        failed = await failure({"url": server.url(), "max_response_bytes": 4096})

    assert failed.code == "RESPONSE_TOO_LARGE" and "4096 bytes (config.max_response_bytes)" in failed.message


async def test_a_gzip_bomb_fails_on_its_decoded_size() -> None:
    bomb = gzip_bomb(16 * MIB)  # ~16 KiB on the wire
    async with serve(fixed(200, bomb, **{"Content-Encoding": "gzip"})) as server:
        failed = await failure({"url": server.url()}, cap=MIB)

    assert failed.code == "RESPONSE_TOO_LARGE"


async def test_a_gzip_body_under_the_cap_is_decoded() -> None:
    body = gzip_bomb(1000)
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
    async with serve(fixed(200, body, **headers)) as server:
        output = await attempt({"url": server.url()})

    assert output["body"] == "\0" * 1000


async def test_a_node_may_not_ask_for_more_than_the_runner_cap() -> None:
    failed = await failure({"url": "http://127.0.0.1:9/", "max_response_bytes": 2 * MIB}, cap=MIB)

    assert failed.code == "INVALID_CONFIG" and f"over this runner's cap of {MIB} bytes" in failed.message


# --- timeout -------------------------------------------------------------------------------------


async def test_the_timeout_bounds_the_whole_request_not_each_read() -> None:
    """One byte per 0.2 s for 100 bytes would take 20 s; a 1 s timeout ends it at about 1 s."""
    async with serve(trickle(b"y" * 100, 0.2)) as server:
        started = time.monotonic()
        failed = await failure({"url": server.url("/slow"), "timeout": 1})
        elapsed = time.monotonic() - started

    assert failed.code == "TIMEOUT"
    assert failed.message == f"GET {server.url('/slow')} timed out after 1 s (config.timeout)"
    assert elapsed < 10  # far from the 20 s the body takes: the whole exchange was bounded


# --- redirects -----------------------------------------------------------------------------------


async def test_follow_redirects_true_follows_to_another_origin() -> None:
    async with serve(fixed(200, b"final", **{"Content-Type": "text/plain"})) as target:  # noqa: SIM117
        async with serve(redirect(target.url("/end"))) as hop:  # the hop needs the target's port
            output = await attempt({"url": hop.url(), "follow_redirects": True})

    assert output["body"] == "final" and target.accepted == 1


async def test_a_redirect_to_another_origin_is_not_followed_by_default() -> None:
    async with serve(fixed(200, b"elsewhere")) as other, serve(redirect(other.url("/x"))) as hop:
        failed = await failure({"url": hop.url()})

    assert other.accepted == 0
    assert failed.code == "HTTP_STATUS"
    assert "returned 302" in failed.message and "config.follow_redirects is 'same-origin'" in failed.message


async def test_same_origin_redirects_are_followed_and_counted() -> None:
    hops: list[str] = []

    async def respond(head: bytes, writer: Any) -> None:
        path = head.split(b" ")[1].decode()
        hops.append(path)
        if path == "/end":
            await fixed(200, b"{}", **{"Content-Type": "application/json"})(head, writer)
        else:
            await redirect(f"/hop{len(hops)}" if len(hops) < 3 else "/end")(head, writer)

    async with serve(respond) as server:
        output = await attempt({"url": server.url("/start")})
        hops.clear()
        failed = await failure({"url": server.url("/start"), "max_redirects": 1})

    assert output["body"] == {}
    assert failed.code == "HTTP_ERROR" and "more than 1 redirects (config.max_redirects)" in failed.message


async def test_follow_redirects_false_returns_the_redirect() -> None:
    async with serve(redirect("/elsewhere", 301)) as server:
        output = await attempt({"url": server.url(), "follow_redirects": False, "expected_status": 301})

    assert output["status_code"] == 301 and output["headers"]["location"] == "/elsewhere"


# --- destination policy --------------------------------------------------------------------------


async def test_a_denied_address_is_refused_without_a_connection() -> None:
    async with serve(fixed(200), host="127.0.0.2") as denied:
        failed = await failure(
            {"url": denied.url("/x")}, policy=DestinationPolicy.parse(deny=["127.0.0.2/32"])
        )

    assert denied.accepted == 0
    assert failed.code == "DESTINATION_DENIED"
    assert failed.message == (
        f"GET {denied.url('/x')}: destination denied: 127.0.0.2 is in the denied network 127.0.0.2/32 "
        "(--http-deny)"
    )


async def test_with_an_allow_list_other_addresses_are_refused() -> None:
    policy = DestinationPolicy.parse(allow=["127.0.0.1"])
    async with (
        serve(fixed(200, b"ok"), host="127.0.0.1") as allowed,
        serve(fixed(200), host="127.0.0.3") as other,
    ):
        output = await attempt({"url": allowed.url()}, policy=policy)
        failed = await failure({"url": other.url()}, policy=policy)

    assert output["body"] == "ok"
    assert other.accepted == 0
    assert failed.code == "DESTINATION_DENIED" and "127.0.0.3 is not an allowed destination" in failed.message


async def test_a_redirect_to_a_denied_address_is_refused() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.2"])
    async with serve(fixed(200), host="127.0.0.2") as denied:  # noqa: SIM117
        async with serve(redirect(denied.url("/inside"))) as hop:  # the hop needs the target's port
            failed = await failure({"url": hop.url(), "follow_redirects": True}, policy=policy)

    assert hop.accepted == 1 and denied.accepted == 0
    assert failed.code == "DESTINATION_DENIED"


async def test_a_name_resolving_to_a_denied_address_is_refused() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.1", "::1"])
    async with serve(fixed(200)) as server:
        failed = await failure({"url": f"http://localhost:{server.port}/"}, policy=policy)

    assert server.accepted == 0
    assert failed.code == "DESTINATION_DENIED" and "(--http-deny)" in failed.message


@pytest.mark.parametrize(
    ("url", "denied"),
    [
        pytest.param("http://[::1]:9/", "::1", id="ipv6-literal"),
        pytest.param("http://2130706433:9/", "127.0.0.1", id="decimal-ipv4"),
        pytest.param("http://127.1:9/", "127.0.0.1", id="short-ipv4"),
    ],
)
async def test_odd_spellings_of_a_denied_address_are_refused(url: str, denied: str) -> None:
    """The check sees the address the name resolves to, however the URL spells it (nothing
    listens on port 9: a refusal proves the check came before any connection attempt)."""
    failed = await failure({"url": url}, policy=DestinationPolicy.parse(deny=[denied]))

    assert failed.code == "DESTINATION_DENIED"


async def test_a_method_rendered_to_something_else_is_refused_unquoted() -> None:
    failed = await failure(
        {"url": "http://127.0.0.1:9/", "method": "{{ secrets.key }}"}, secrets={"key": SECRET}
    )

    assert failed.code == "INVALID_CONFIG" and failed.message.startswith(
        "config.method must be one of DELETE"
    )


async def test_a_timeout_rendered_from_a_secret_is_not_quoted() -> None:
    failed = await failure(
        {"url": "http://127.0.0.1:9/", "timeout": "{{ secrets.key }}"}, secrets={"key": SECRET}
    )

    assert failed.code == "INVALID_CONFIG"
    assert failed.message == "config.timeout must be a number of seconds greater than 0"


async def test_the_backend_connects_to_the_checked_address_not_the_name() -> None:
    """Resolved once, checked, then connected by address: a second DNS answer cannot sneak in."""
    connected: list[str] = []

    class Recording(httpcore.AnyIOBackend):
        async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
            connected.append(host)
            return await super().connect_tcp(host, port, *args, **kwargs)

    async with serve(fixed(200)) as server:
        backend = CheckedBackend(DestinationPolicy(), Recording())
        stream = await backend.connect_tcp("localhost", server.port)
        await stream.aclose()

    assert connected and connected[0] in ("127.0.0.1", "::1")


async def test_the_runner_client_ignores_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a proxy the policy would see only the proxy: the client never uses one."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.9:9")
    async with serve(fixed(200, b"direct")) as server:
        output = await attempt({"url": server.url()})

    assert output["body"] == "direct"


# --- messages never quote the rendered request ---------------------------------------------------


async def test_an_invalid_port_from_a_secret_names_the_key_not_the_value() -> None:
    failed = await failure({"url": "http://127.0.0.1:{{ secrets.key }}/"}, secrets={"key": SECRET})

    assert failed.code == "HTTP_ERROR"
    assert failed.message == "GET http://127.0.0.1:{{ secrets.key }}/ failed: config.url: invalid port"


async def test_a_status_failure_names_the_url_as_written() -> None:
    async with serve(fixed(500, b"boom")) as server:
        url = f"http://127.0.0.1:{server.port}/x?token={{{{ secrets.key }}}}"
        failed = await failure({"url": url}, secrets={"key": SECRET})

    assert failed.message == f"GET {url} returned 500, expected 2xx: boom"
    assert quote(SECRET, safe="") not in failed.message and "Zm9v" not in failed.message


async def test_a_bad_header_value_names_the_header_not_the_value() -> None:
    config = {"url": "http://127.0.0.1:9/", "headers": {"X-Key": "{{ secrets.key }}"}}

    failed = await failure(config, secrets={"key": "line\r\nbreak"})

    assert failed.code == "INVALID_CONFIG"
    assert (
        failed.message
        == "GET http://127.0.0.1:9/: config.headers.X-Key must be ASCII text without line breaks"
    )


async def test_a_connection_failure_is_described_in_fixed_words() -> None:
    async with serve(fixed(200)) as server:
        port = server.port
    failed = await failure(
        {"url": f"http://127.0.0.1:{port}/?t={{{{ secrets.key }}}}"}, secrets={"key": SECRET}
    )

    assert failed.code == "HTTP_ERROR"
    assert failed.message.endswith("failed: could not connect (Connection refused)")


# --- config validation ---------------------------------------------------------------------------


def test_the_new_keys_are_validated_when_the_workflow_is_stored() -> None:
    problems = HttpNode().validate_config(
        {"url": "http://x.test", "max_response_bytes": 0, "max_redirects": 21, "follow_redirects": "maybe"}
    )

    assert problems == [
        ("max_response_bytes", "must be a whole number at least 1, or a template"),
        ("max_redirects", "must be a whole number between 0 and 20, or a template"),
        ("follow_redirects", "must be true, false or 'same-origin', or a template"),
    ]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"max_response_bytes": 1024.0, "max_redirects": 0}, id="struct-floats"),
        pytest.param({"follow_redirects": "same-origin"}, id="same-origin"),
        pytest.param({"follow_redirects": False, "max_response_bytes": "{{ vars.cap }}"}, id="templates"),
    ],
)
def test_valid_values_of_the_new_keys_pass(extra: dict[str, Any]) -> None:
    assert HttpNode().validate_config({"url": "http://x.test", **extra}) == []
