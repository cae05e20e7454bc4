"""Fixtures of the client tests: real services in-process on SQLite, and a client connected to them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from client_helpers import addresses, parallel_workflow
from integration_helpers import Services, start_services, stop_services

from resumeflow_client import Client


@pytest.fixture
async def services(sqlite_database_url: str) -> AsyncIterator[Services]:
    started = await start_services(sqlite_database_url)
    try:
        yield started
    finally:
        await stop_services(started)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    runner, history = addresses(services)
    connected = await Client.connect(runner, history_address=history)
    try:
        yield connected
    finally:
        await connected.close()


@pytest.fixture
async def failed_parallel_run(client: Client) -> str:
    """A failed run of `parallel` where both branches failed; returns its id."""
    await client.apply_workflow(parallel_workflow())
    run = await client.run("parallel", inputs={"trail": ""}, env={"fail": "left", "fail2": "right"})
    assert run.failed_node_ids == ("left", "right")
    return run.id
