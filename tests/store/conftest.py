"""Fixtures of the store tests: a migrated store on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from store_helpers import make_workflow

from history_service.store import HistoryStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[HistoryStore]:
    """A migrated store with the `orders` workflow (version 1) in it."""
    opened = await HistoryStore.open(database_url)
    try:
        await opened.put_workflow(make_workflow())
        yield opened
    finally:
        await opened.close()
