"""The history store: the only code that touches the database."""

from history_service.store.store import HistoryStore

__all__ = ["HistoryStore"]
