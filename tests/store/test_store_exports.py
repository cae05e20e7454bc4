"""The public surface of `history_service.store`."""

from __future__ import annotations

import history_service.store


def test_store_package_exports_only_the_history_store() -> None:
    assert history_service.store.__all__ == ["HistoryStore"]
