"""A hostile secret, echoed back in every encoding, leaves no trace in anything the services store,
stream or log: each form of it is looked for in the raw bytes of every answer, the database and the logs."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from google.protobuf import json_format
from integration_helpers import Services, node, workflow
from pytest_httpserver import HTTPServer
from secret_forms import HOSTILE_SECRET, leaked
from werkzeug import Request, Response

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

NS = run_pb2.NodeStatus


def _echo(request: Request) -> Response:
    """Answers with the token it was sent, as it arrived and re-encoded every way a service might."""
    token = request.args.get("token", "")
    echoed = {
        "url": request.url,
        "query": request.query_string.decode(),
        "body": request.get_data(as_text=True),
        "token": token,
        "repr": repr(token),
        "bytes": repr(token.encode()),
        "basic": base64.b64encode(b"user:" + token.encode()).decode(),
        "urlsafe": base64.urlsafe_b64encode(token.encode()).decode(),
        "html": html.escape(token),
        "json": json.dumps(token),
        "quote_plus": urllib.parse.quote_plus(token),
    }
    if request.path == "/fail":
        return Response(f"bad token {token!r} at {request.url}", status=500)
    return Response(json.dumps(echoed), content_type="application/json")


@pytest.fixture
def echo_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.expect_request("/echo").respond_with_handler(_echo)
    server.expect_request("/fail").respond_with_handler(_echo)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def _leaky_workflow(base: str) -> object:
    token = "?token={{ secrets.key }}"
    retried = node("fail", "http", url=f"{base}/fail{token}")
    retried.retry.max_attempts = 2
    retried.retry.initial_backoff.FromMilliseconds(10)
    return workflow(
        "leaky",
        [
            node("start", "start"),
            node(
                "call",
                "http",
                method="POST",
                url=f"{base}/echo{token}",
                body={"key": "{{ secrets.key }}", "wrapped": "<{{ secrets.key }}>"},
                extract={"echoed": "response.body.token", "basic": "response.body.basic"},
            ),
            retried,
            node(
                "copy",
                "set",
                values={
                    "copy": "{{ secrets.key }}",
                    "urlencoded": "{{ secrets.key | urlencode }}",
                    "json": "{{ secrets.key | tojson }}",
                },
            ),
            node("broken", "set", values={"x": "{{ vars[secrets.key] }}"}),
            node("check", "assert", assertions=["vars.echoed == 'something else'"]),
        ],
        [("start", "call"), ("start", "fail"), ("start", "copy"), ("start", "broken"), ("call", "check")],
    )


async def _database_bytes(database_url: str) -> bytes:
    """Every stored byte: the SQLite file and its WAL, or every row of every PostgreSQL table as text."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(file.read_bytes() for file in files if file.exists())
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows = [
            row[0]
            for table in tables
            for row in await connection.fetch(f'SELECT t::text FROM "{table["table_name"]}" t')
        ]
    finally:
        await connection.close()
    assert len(rows) > 5, "the database holds nearly nothing: the check would be vacuous"
    return "\n".join(rows).encode()


def _wire(*messages: object) -> bytes:
    """The messages as sent (binary) and as JSON clients would print them."""
    return b"".join(
        m.SerializeToString() + json_format.MessageToJson(m, ensure_ascii=False).encode()  # type: ignore[attr-defined]
        for m in messages
    )


async def test_a_hostile_secret_leaks_in_no_encoding_anywhere(
    services: Services,
    database_url: str,
    echo_server: HTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await services.put(_leaky_workflow(f"http://127.0.0.1:{echo_server.port}"))  # type: ignore[arg-type]
    request = rpb.RunWorkflowRequest(workflow_id="leaky", secrets={"key": HOSTILE_SECRET})
    request.inputs.update({"echo": HOSTILE_SECRET})
    request.environment.values["api"] = HOSTILE_SECRET

    with caplog.at_level("DEBUG"):
        stream = await services.run(request)
        run_id = stream[0].accepted.run.id
        run = await services.get_run(run_id)
        lineage = await services.history.GetLineageContext(hpb.GetLineageContextRequest(run_id=run_id))
        watched = [
            response async for response in services.history.WatchRun(hpb.WatchRunRequest(run_id=run_id))
        ]

    # The secret really went through outputs, errors, variables and events (not a vacuous check).
    results = {r.node_id: r for r in run.node_results}
    assert results["call"].status == NS.NODE_STATUS_SUCCEEDED
    assert json_format.MessageToDict(results["call"].output)["body"]["token"] == "***"
    assert "***" in results["fail"].error.message and results["fail"].attempts == 2
    assert results["broken"].error.code == "TEMPLATE_ERROR"
    assert results["check"].error.code == "ASSERTION_FAILED"
    assert run.variables["copy"] == "***" and run.variables["echoed"] == "***"
    assert run.inputs["echo"] == "***" and run.environment.values["api"] == "***"
    retried = [e for e in (e for r in watched for e in r.events) if e.message.startswith("retrying after")]
    assert retried and "***" in retried[0].message

    assert leaked(_wire(*stream)) == [], "RunWorkflow stream"
    assert leaked(_wire(run)) == [], "GetRun"
    assert leaked(_wire(lineage)) == [], "GetLineageContext"
    assert leaked(_wire(*watched)) == [], "WatchRun"
    assert leaked(await _database_bytes(database_url)) == [], "database"
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]  # the echo server's own
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)
    assert leaked(logged) == [], "logs"


def test_the_leak_check_finds_what_it_looks_for() -> None:
    """The checks above would see a leak: each form of the secret is found where it sits."""
    text = f"a={urllib.parse.quote_plus(HOSTILE_SECRET)} b={base64.b64encode(HOSTILE_SECRET.encode())!r}"

    assert {"quote_plus", "base64", "base64-unpadded"} <= set(leaked(text))
    assert "repr" not in leaked(text)
    assert "raw" in leaked(HOSTILE_SECRET.encode())
