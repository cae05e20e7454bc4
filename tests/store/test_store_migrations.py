"""The schema: migrations applied by `HistoryStore.open` and how opening fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from store_helpers import make_workflow

from history_service.store import HistoryStore
from history_service.store.database import create_engine
from history_service.store.models import Base
from resumeflow_core.errors import UnavailableError


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    await (await HistoryStore.open(database_url)).close()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


async def test_opening_a_migrated_database_again_keeps_its_data(
    database_url: str,
) -> None:
    async with await HistoryStore.open(database_url) as first:
        await first.put_workflow(make_workflow())
    async with await HistoryStore.open(database_url) as second:
        assert (await second.get_workflow("orders")).version == 1


async def test_sqlite_database_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "history.db"
    async with await HistoryStore.open(f"sqlite:///{path}"):
        pass
    assert path.exists()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a url", id="unparseable"),
        pytest.param("nosuchdb://host/db", id="unknown-backend"),
    ],
)
async def test_open_rejects_a_bad_url_with_unavailable(url: str) -> None:
    with pytest.raises(UnavailableError) as caught:
        await HistoryStore.open(url)
    assert "\n" not in caught.value.message


async def test_open_of_an_unreachable_database_raises_unavailable_without_password() -> None:
    url = "postgresql+asyncpg://someone:s3cret@127.0.0.1:1/nothing"
    with pytest.raises(UnavailableError) as caught:
        await HistoryStore.open(url)
    message = caught.value.message
    assert "s3cret" not in message
    assert "127.0.0.1" in message
    assert "\n" not in message
