"""Listing runs: newest first, filters, keyset page tokens."""

from __future__ import annotations

import base64

import pytest
from store_helpers import RUNNER, finished_event, make_workflow, start_run

from history_service.store import HistoryStore
from resumeflow_core.errors import InvalidArgumentError
from resumeflow_core.records import RunEnd
from resumeflow_core.status import RunStatus


async def test_runs_are_listed_newest_first_without_results(
    store: HistoryStore,
) -> None:
    ids = [(await start_run(store)).id for _ in range(3)]

    runs, token = await store.list_runs("orders")

    assert [r.id for r in runs] == ids[::-1]
    assert all(r.node_results == [] for r in runs)
    assert token == ""


async def test_pages_cover_every_run_exactly_once(store: HistoryStore) -> None:
    ids = [(await start_run(store)).id for _ in range(7)]

    seen, token = [], ""
    while True:
        page, token = await store.list_runs("orders", page_size=3, page_token=token)
        seen += [r.id for r in page]
        if not token:
            break

    assert seen == ids[::-1]


async def test_runs_are_filtered_by_workflow(store: HistoryStore) -> None:
    await store.put_workflow(make_workflow("billing"))
    billing = await start_run(store, workflow_id="billing")
    orders = await start_run(store)

    assert [r.id for r in (await store.list_runs("billing"))[0]] == [billing.id]
    assert [r.id for r in (await store.list_runs())[0]] == [orders.id, billing.id]


async def test_runs_are_filtered_by_status(store: HistoryStore) -> None:
    failed = await start_run(store)
    await store.finish_run(
        failed.id, RUNNER, RunEnd(RunStatus.FAILED, finished_event(failed.id, 2), [], {}, "boom")
    )
    running = await start_run(store)

    only_failed, _ = await store.list_runs("orders", [RunStatus.FAILED])
    both, _ = await store.list_runs("orders", [RunStatus.FAILED, RunStatus.RUNNING])

    assert [r.id for r in only_failed] == [failed.id]
    assert [r.id for r in both] == [running.id, failed.id]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("%%%", id="not-base64"),
        pytest.param(base64.urlsafe_b64encode(b"{}").decode(), id="not-a-list"),
        pytest.param(base64.urlsafe_b64encode(b'["yesterday", "x"]').decode(), id="bad-time"),
        pytest.param(
            base64.urlsafe_b64encode(b'["2024-01-01T00:00:00", "x"]').decode(),
            id="naive-time",
        ),
    ],
)
async def test_a_malformed_page_token_is_invalid(store: HistoryStore, token: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await store.list_runs("orders", page_token=token)
    assert [v.field for v in caught.value.violations] == ["page_token"]


async def test_a_negative_page_size_is_invalid(store: HistoryStore) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await store.list_runs("orders", page_size=-1)
    assert [v.field for v in caught.value.violations] == ["page_size"]


async def test_page_size_zero_means_fifty(store: HistoryStore) -> None:
    for _ in range(51):
        await start_run(store)

    page, token = await store.list_runs("orders", page_size=0)

    assert len(page) == 50
    assert token
