"""The client sends its bearer token on every call, streams included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from client_helpers import addresses, chain_workflow
from integration_helpers import Services, start_services, stop_services

from resumeflow_client import Client, RunStatus, UnauthenticatedError
from resumeflow_core.rpc.security import Security

TOKEN = "s3cret-token"


@pytest.fixture
async def guarded(sqlite_database_url: str) -> AsyncIterator[Services]:
    started = await start_services(sqlite_database_url, security=Security(auth_token=TOKEN))
    try:
        yield started
    finally:
        await stop_services(started)


async def test_calls_and_streams_carry_the_token(guarded: Services) -> None:
    runner, history = addresses(guarded)
    async with await Client.connect(runner, history_address=history, auth_token=TOKEN) as client:
        await client.apply_workflow(chain_workflow("chain", 1))
        run = await client.run("chain")
        events = [event async for event in client.watch(run.id)]

    assert run.status == RunStatus.SUCCEEDED and events[-1].sequence == run.last_sequence


@pytest.mark.parametrize(
    "token", [pytest.param(None, id="no-token"), pytest.param("wrong", id="wrong-token")]
)
async def test_a_missing_or_wrong_token_is_unauthenticated(guarded: Services, token: str | None) -> None:
    runner, history = addresses(guarded)
    async with await Client.connect(runner, history_address=history, auth_token=token) as client:
        with pytest.raises(UnauthenticatedError):
            await client.get_run("x")
        with pytest.raises(UnauthenticatedError):
            await client.run("chain")
        with pytest.raises(UnauthenticatedError):
            [event async for event in client.watch("x")]
