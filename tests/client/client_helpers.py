"""Helpers of the client tests: workflow definitions and a TCP proxy whose connections can be cut."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

# The real in-process services are started the way the integration suite starts them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))


def addresses(services: Any) -> tuple[str, str]:
    """(runner, history) HOST:PORT of in-process services."""
    return f"127.0.0.1:{services.runner_server.port}", f"127.0.0.1:{services.history_server.port}"


def chain_workflow(workflow_id: str, count: int, seconds: float = 0.0) -> dict[str, Any]:
    """start → n0 → … → n{count-1} → end, each step a delay of `seconds`."""
    names = [f"n{i}" for i in range(count)]
    nodes = [{"id": "start", "type": "start"}]
    nodes += [{"id": name, "type": "delay", "config": {"seconds": seconds}} for name in names]
    nodes += [{"id": "end", "type": "end"}]
    order = ["start", *names, "end"]
    return {
        "id": workflow_id,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in zip(order, order[1:], strict=False)],
    }


def fail_when(node_id: str) -> str:
    """A `set` value appending `node_id` to `vars.trail`; it fails (undefined name) while
    `env.fail` or `env.fail2` names the node."""
    failing = f"env.fail == '{node_id}' or env.fail2 == '{node_id}'"
    return f"{{{{ no_such_name if {failing} else (vars.trail ~ '{node_id}') }}}}"


def parallel_workflow(workflow_id: str = "parallel") -> dict[str, Any]:
    """start → (left, right) → join → end; `env.fail`/`env.fail2` choose which branches fail."""
    return {
        "id": workflow_id,
        "name": "Parallel branches",
        "nodes": [
            {"id": "start", "type": "start"},
            {
                "id": "left",
                "type": "set",
                "label": "Left branch",
                "config": {"values": {"l": fail_when("left")}},
            },
            {
                "id": "right",
                "type": "set",
                "label": "Right branch",
                "config": {"values": {"r": fail_when("right")}},
            },
            {"id": "join", "type": "noop", "label": "Join"},
            {"id": "end", "type": "end"},
        ],
        "edges": [
            {"source": "start", "target": "left"},
            {"source": "start", "target": "right"},
            {"source": "left", "target": "join"},
            {"source": "right", "target": "join"},
            {"source": "join", "target": "end"},
        ],
    }


def secret_workflow(workflow_id: str = "needs-key") -> dict[str, Any]:
    """start → call (uses secrets.api_key; fails while env.fail == 'call') → end."""
    value = "{{ secrets.api_key if env.fail != 'call' else no_such_name }}"
    return {
        "id": workflow_id,
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "call", "type": "set", "label": "Call with key", "config": {"values": {"key": value}}},
            {"id": "end", "type": "end"},
        ],
        "edges": [{"source": "start", "target": "call"}, {"source": "call", "target": "end"}],
    }


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port; `cut()` resets every open connection."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def cut(self) -> None:
        """Abort every open connection, as a crashing peer or a network reset would."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        """Stop accepting and cut what is open."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()

    async def close(self) -> None:
        await self.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, server_writer}
        pumps = [
            asyncio.create_task(self._pump(client_reader, server_writer)),
            asyncio.create_task(self._pump(server_reader, client_writer)),
        ]
        self._tasks.update(pumps)
        for pump in pumps:
            pump.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._writers.discard(writer)
