"""Initial schema: workflows and their versions, runs, node results and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        _time("create_time"),
        _time("update_time"),
        sa.PrimaryKeyConstraint("id", name="pk_workflows"),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _json("definition"),
        _json("node_hashes"),
        _time("create_time"),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name="fk_workflow_versions_workflow_id_workflows",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "version", name="pk_workflow_versions"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        _time("create_time"),
        _time("start_time", nullable=True),
        _time("end_time", nullable=True),
        _json("inputs"),
        sa.Column("environment_name", sa.String(), nullable=False),
        _json("environment"),
        _json("failed_node_ids"),
        _json("variables"),
        sa.Column("error_summary", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("resume_from_run_id", sa.String(), nullable=True),
        _json("resume_from_node_ids"),
        sa.Column("resume_mode", sa.Integer(), nullable=False),
        sa.Column("root_run_id", sa.String(), nullable=False),
        sa.Column("lineage_depth", sa.Integer(), nullable=False),
        _json("lineage"),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("runner_id", sa.String(), nullable=False),
        _time("lease_expire_time", nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("active_resume_of", sa.String(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id", "workflow_version"],
            ["workflow_versions.workflow_id", "workflow_versions.version"],
            name="fk_runs_workflow_id_workflow_version_workflow_versions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("workflow_id", "request_id", name="uq_runs_workflow_id_request_id"),
    )
    # Listing newest first, overall and per workflow (keyset on create_time, id).
    op.create_index("ix_runs_create_time_id", "runs", ["create_time", "id"])
    op.create_index(
        "ix_runs_workflow_id_create_time_id",
        "runs",
        ["workflow_id", "create_time", "id"],
    )
    # Filtering by status; the latest unresolved failed run of a workflow is its first entry.
    op.create_index(
        "ix_runs_workflow_id_status_resolved_create_time_id",
        "runs",
        ["workflow_id", "status", "resolved", "create_time", "id"],
    )
    op.create_index("ix_runs_root_run_id", "runs", ["root_run_id"])
    # The lease reaper's scan of RUNNING runs whose lease expired.
    op.create_index("ix_runs_status_lease_expire_time", "runs", ["status", "lease_expire_time"])
    # At most one active resume per source run, guaranteed by the database.
    op.create_index("uq_runs_active_resume_of", "runs", ["active_resume_of"], unique=True)
    op.create_table(
        "node_results",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("node_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("start_time", nullable=True),
        _time("end_time", nullable=True),
        _json("output", nullable=True),
        _json("variables"),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("source_run_id", sa.String(), nullable=False),
        sa.Column("finish_sequence", sa.Integer(), nullable=False),
        sa.Column("definition_hash", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name="fk_node_results_run_id_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "node_id", name="pk_node_results"),
    )
    op.create_table(
        "events",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _time("time"),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(), nullable=False),
        sa.Column("node_status", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("run_status", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_events_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "sequence", name="pk_events"),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("node_results")
    op.drop_table("runs")  # its indexes go with it
    op.drop_table("workflow_versions")
    op.drop_table("workflows")
