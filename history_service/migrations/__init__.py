"""Alembic migrations of the history database, applied by `HistoryStore.open`."""
