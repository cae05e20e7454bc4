"""Workflow versions: put, get and list."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from store_helpers import make_workflow

from history_service.store import HistoryStore
from resumeflow_core.errors import InvalidArgumentError, WorkflowNotFoundError
from resumeflow_core.workflow import Node, RetryPolicy


async def test_first_put_creates_version_one(store: HistoryStore) -> None:
    stored, created = await store.put_workflow(make_workflow("billing"))
    assert created
    assert stored.version == 1
    assert stored.create_time is not None
    assert stored.create_time == stored.update_time


async def test_put_of_an_unchanged_definition_keeps_the_version(
    store: HistoryStore,
) -> None:
    stored, created = await store.put_workflow(make_workflow())
    assert not created
    assert stored.version == 1


async def test_put_of_a_changed_definition_adds_the_next_version(
    store: HistoryStore,
) -> None:
    stored, created = await store.put_workflow(make_workflow(url="https://changed.test"))
    assert created
    assert stored.version == 2
    assert (await store.get_workflow("orders")).version == 2


async def test_versions_stay_readable_after_a_change(store: HistoryStore) -> None:
    await store.put_workflow(make_workflow(url="https://changed.test"))
    first = await store.get_workflow("orders", version=1)
    assert first.node("fetch").config["url"] == "https://example.test"
    assert first.update_time is not None and first.create_time is not None
    assert first.update_time <= (await store.get_workflow("orders")).update_time  # type: ignore[operator]


async def test_get_returns_the_definition_as_put(store: HistoryStore) -> None:
    retried = dataclasses.replace(
        make_workflow("retrying"),
        nodes=(
            Node("start", "start"),
            Node(
                "fetch",
                "http",
                label="Fetch",
                config={
                    "url": "https://x.test",
                    "headers": {"a": "b"},
                    "n": [1, 2.5, None],
                },
                retry=RetryPolicy(max_attempts=3, initial_backoff=0.5, max_backoff=4.0),
                timeout=2.5,
            ),
        ),
    )
    await store.put_workflow(retried)
    loaded = await store.get_workflow("retrying")
    assert loaded.same_definition(retried)
    assert loaded.node("fetch").definition_hash() == retried.node("fetch").definition_hash()


async def test_get_of_an_unknown_workflow_raises_not_found(store: HistoryStore) -> None:
    with pytest.raises(WorkflowNotFoundError):
        await store.get_workflow("missing")


async def test_get_of_an_unknown_version_raises_not_found(store: HistoryStore) -> None:
    with pytest.raises(WorkflowNotFoundError) as caught:
        await store.get_workflow("orders", version=7)
    assert caught.value.metadata == {"workflow_id": "orders", "version": "7"}


async def test_get_of_a_negative_version_is_invalid(store: HistoryStore) -> None:
    with pytest.raises(InvalidArgumentError):
        await store.get_workflow("orders", version=-1)


async def test_list_workflows_pages_by_id_with_latest_versions(
    store: HistoryStore,
) -> None:
    for workflow_id in ("a-flow", "b-flow", "c-flow"):
        await store.put_workflow(make_workflow(workflow_id))
    await store.put_workflow(make_workflow("b-flow", url="https://v2.test"))

    first, token = await store.list_workflows(page_size=2)
    second, last_token = await store.list_workflows(page_size=2, page_token=token)

    assert [w.id for w in first + second] == ["a-flow", "b-flow", "c-flow", "orders"]
    assert [w.version for w in first] == [1, 2]
    assert last_token == ""


async def test_concurrent_puts_of_a_new_workflow_store_one_version(
    store: HistoryStore,
) -> None:
    results = await asyncio.gather(*(store.put_workflow(make_workflow("racy")) for _ in range(4)))
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert {stored.version for stored, _ in results} == {1}
