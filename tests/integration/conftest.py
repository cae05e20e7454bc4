"""Fixtures of the integration suite: both services, in-process, once per database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from integration_helpers import Services, start_services, stop_services


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """Both services on one database, once per backend."""
    started = await start_services(database_url)
    try:
        yield started
    finally:
        await stop_services(started)
