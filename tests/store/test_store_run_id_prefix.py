"""Run ids by prefix: what the CLI's short ids resolve through (History.resolve_run_id)."""

from __future__ import annotations

import pytest
from store_helpers import NODE_IDS, RUNNER

from history_service.history import History
from history_service.store import HistoryStore
from resumeflow_core.errors import InvalidArgumentError, RunNotFoundError
from resumeflow_core.records import Run, RunStart


async def _run_with_id(store: HistoryStore, run_id: str) -> None:
    run = Run(id=run_id, workflow_id="orders", workflow_version=1)
    await store.create_run(RunStart(run, node_ids=list(NODE_IDS), runner_id=RUNNER))


@pytest.fixture
async def history(store: HistoryStore) -> History:
    for run_id in (
        "abcdef01" + "0" * 24,
        "abcdef02" + "0" * 24,
        "abcd_f03" + "0" * 24,
        "0123456789" * 3 + "ab",
    ):
        await _run_with_id(store, run_id)
    return History(store)


async def test_a_unique_prefix_of_six_or_more_characters_names_its_run(history: History) -> None:
    assert await history.resolve_run_id("012345") == "0123456789" * 3 + "ab"
    assert await history.resolve_run_id("ABCDEF01") == "abcdef01" + "0" * 24  # letter case does not matter
    assert await history.resolve_run_id("abcdef02" + "0" * 24) == "abcdef02" + "0" * 24


async def test_an_ambiguous_prefix_lists_the_candidates(history: History) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await history.resolve_run_id("abcdef")

    assert caught.value.reason == "AMBIGUOUS_RUN_ID"
    assert caught.value.metadata["candidates"] == f"abcdef01{'0' * 24},abcdef02{'0' * 24}"
    assert [v.reason for v in caught.value.violations] == ["AMBIGUOUS_RUN_ID"]


async def test_like_wildcards_in_a_prefix_match_only_themselves(history: History) -> None:
    assert await history.resolve_run_id("abcd_f03") == "abcd_f03" + "0" * 24
    with pytest.raises(RunNotFoundError):
        await history.resolve_run_id("abcd%f")


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [("abcde", "TOO_SHORT"), ("a" * 65, "TOO_LONG"), ("abcdef\x00", "INVALID_CHARACTER")],
)
async def test_a_prefix_too_short_or_too_long_is_invalid(history: History, prefix: str, reason: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await history.resolve_run_id(prefix)

    assert [v.reason for v in caught.value.violations] == [reason]


async def test_no_match_is_run_not_found(history: History) -> None:
    with pytest.raises(RunNotFoundError):
        await history.resolve_run_id("ffffff")
