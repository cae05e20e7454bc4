"""SQLAlchemy models of the history database; only the store uses them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones: values are stored as naive UTC and get UTC attached on load.
    Naive datetimes are refused on the way in, since their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite's DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff", written by the C isoformat in
        # one step: a thousand-event batch pays this per event (SQLAlchemy's generic path:
        # process_bind_param, then a %-format of seven fields, ~3x the cost).
        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not UTC:
                if value.tzinfo is None:
                    raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"

        return to_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base: named constraints, UTC timestamps, JSON for containers."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        dict[str, str]: JSON(),
        list[str]: JSON(),
        Any: JSON(),
    }


class WorkflowRow(Base):
    """A workflow's identity and its latest version."""

    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    current_version: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime]
    update_time: Mapped[datetime]


class WorkflowVersionRow(Base):
    """One immutable version of a workflow's definition."""

    __tablename__ = "workflow_versions"

    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]]
    """{"nodes": [...], "edges": [...]}, see `rows.definition_to_json`."""
    node_hashes: Mapped[dict[str, str]]
    """{node_id: Node.definition_hash()}, to detect drift without decoding definitions."""
    create_time: Mapped[datetime]


class RunRow(Base):
    """One run of one workflow version, with its lease and resume lineage."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String)
    workflow_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    create_time: Mapped[datetime]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    inputs: Mapped[dict[str, Any]]
    environment_name: Mapped[str] = mapped_column(String)
    environment: Mapped[dict[str, str]]
    failed_node_ids: Mapped[list[str]]
    variables: Mapped[dict[str, Any]]
    error_summary: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String)
    """Idempotency key, unique per workflow; NULL when the caller gave none."""
    resume_from_run_id: Mapped[str | None] = mapped_column(String)
    resume_from_node_ids: Mapped[list[str]]
    resume_mode: Mapped[int] = mapped_column(Integer)
    root_run_id: Mapped[str] = mapped_column(String)
    lineage_depth: Mapped[int] = mapped_column(Integer)
    lineage: Mapped[list[str]]
    """Ids of every ancestor run, nearest first: a whole lineage is one `IN` query away."""
    last_sequence: Mapped[int] = mapped_column(Integer)
    runner_id: Mapped[str] = mapped_column(String)
    lease_expire_time: Mapped[datetime | None]
    """By the database's clock; NULL once the run finished."""
    lease_seconds: Mapped[float] = mapped_column(Float)
    """The lease's length, as the runner last asked for it: a history replica expires the lease
    only after watching for that long itself (see `history_service/reaper.py`)."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    active_resume_of: Mapped[str | None] = mapped_column(String)
    """The source run while this resume is RUNNING, else NULL; unique, so the database
    itself guarantees at most one active resume per source run."""
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    """Set once a run resumed from this one (directly or through a chain) SUCCEEDED."""

    __table_args__ = (
        ForeignKeyConstraint(
            ["workflow_id", "workflow_version"],
            ["workflow_versions.workflow_id", "workflow_versions.version"],
        ),
        UniqueConstraint("workflow_id", "request_id"),
        Index("ix_runs_create_time_id", "create_time", "id"),
        Index("ix_runs_workflow_id_create_time_id", "workflow_id", "create_time", "id"),
        Index(
            "ix_runs_workflow_id_status_resolved_create_time_id",
            "workflow_id",
            "status",
            "resolved",
            "create_time",
            "id",
        ),
        Index("ix_runs_root_run_id", "root_run_id"),
        Index("ix_runs_status_lease_expire_time", "status", "lease_expire_time"),
        Index("uq_runs_active_resume_of", "active_resume_of", unique=True),
    )


class NodeResultRow(Base):
    """The result of one node in one run."""

    __tablename__ = "node_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    """Index of the node in the run's topological order."""
    status: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    output: Mapped[Any | None]
    variables: Mapped[dict[str, Any]]
    error_code: Mapped[str | None] = mapped_column(String)
    error_message: Mapped[str | None] = mapped_column(Text)
    source_run_id: Mapped[str] = mapped_column(String)
    """"" when the run itself produced the result, else the producing run (RESTORED, carried)."""
    finish_sequence: Mapped[int] = mapped_column(Integer)
    definition_hash: Mapped[str] = mapped_column(String, default="")
    """`Node.definition_hash()` of the definition that produced the result."""


class EventRow(Base):
    """One entry of a run's gapless event log."""

    __tablename__ = "events"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime]
    kind: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String)
    node_status: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    run_status: Mapped[int] = mapped_column(Integer)
