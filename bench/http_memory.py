"""The http node against hostile responses, measured on a real runner process (issue 10's payloads).

`python bench/http_memory.py` starts `resumeflow serve history` and `resumeflow serve runner` as
processes of their own for each payload, serves the payload from a loopback server in this process,
runs one http node against it and prints the node's outcome, the time it took and the runner's
peak RSS (VmHWM) before and after. Loopback only. Not part of `make bench`: it takes a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness

from resumeflow_client import Client, workflow_from_mapping

MB = 1000 * 1000
PIECE = 64 * 1024

Payload = Callable[[BaseHTTPRequestHandler], None]


def big_body(total: int, *, declared: bool) -> Payload:
    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if declared:
            handler.send_header("Content-Length", str(total))
        handler.end_headers()
        chunk = b"x" * PIECE
        for _ in range(total // PIECE):
            handler.wfile.write(chunk)

    return write


def gzip_bomb(decoded: int) -> Payload:
    body = gzip.compress(b"\0" * decoded, compresslevel=9)

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return write


def trickle(length: int, interval: float) -> Payload:
    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        for _ in range(length):
            handler.wfile.write(b"y")
            handler.wfile.flush()
            time.sleep(interval)

    return write


def loopback_server(payload: Payload) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # The runner hanging up part way is the point.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                payload(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def measure(name: str, payload: Payload, config: dict[str, object]) -> None:
    server = loopback_server(payload)
    url = f"http://127.0.0.1:{server.server_address[1]}/payload"
    definition = {
        "id": "hostile",
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "call", "type": "http", "config": {"url": url, **config}},
        ],
        "edges": [{"source": "start", "target": "call"}],
    }
    with harness.services() as services:
        before = harness.peak_rss_mb(services.runner.pid)
        async with await Client.connect(
            services.runner_address, history_address=services.history_address
        ) as client:
            await client.apply_workflow(workflow_from_mapping(definition))
            started = time.monotonic()
            run = await client.run("hostile")
            elapsed = time.monotonic() - started
            run = await client.get_run(run.id)
        after = harness.peak_rss_mb(services.runner.pid)
        alive = services.runner.poll() is None
    server.shutdown()
    result = next(r for r in run.node_results if r.node_id == "call")
    error = f"{result.error.code}: {result.error.message}" if result.error else "-"
    print(
        f"| {name} | {run.status.name} | {error} | {elapsed:.2f} s | "
        f"{before:.0f} → {after:.0f} MiB | {'yes' if alive else 'NO'} |",
        flush=True,
    )


async def main() -> None:
    print("| payload | run | node error | time | runner peak RSS (start → end) | runner alive |")
    print("|---|---|---|---|---|---|")
    await measure("200 MB body, Content-Length", big_body(200 * MB, declared=True), {})
    await measure("200 MB body, no Content-Length", big_body(200 * MB, declared=False), {})
    await measure("gzip bomb: 0.49 MB → 500 MB", gzip_bomb(500 * MB), {})
    await measure("1 byte/s for 20 s, config.timeout: 2", trickle(20, 1.0), {"timeout": 2})


if __name__ == "__main__":
    asyncio.run(main())
