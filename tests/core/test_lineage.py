"""Lineage helpers shared by the runner and the history."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from resumeflow_core.lineage import with_provenance
from resumeflow_core.records import NodeError, NodeResult, Run
from resumeflow_core.status import NodeStatus


def test_with_provenance_names_the_run_and_keeps_every_other_field() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    own = NodeResult(
        "fetch",
        NodeStatus.FAILED,
        3,
        start_time=now,
        end_time=now,
        output={"status": 500},
        variables={"tries": 3},
        error=NodeError("HTTP_STATUS", "500"),
        source_run_id="",
        finish_sequence=7,
        definition_hash="h1",
    )
    restored = dataclasses.replace(own, node_id="check", status=NodeStatus.RESTORED, source_run_id="r0")

    results = with_provenance(Run(id="r1", workflow_id="w"), [own, restored])

    assert results["fetch"] == dataclasses.replace(own, source_run_id="r1")
    assert results["check"] is restored  # produced elsewhere: named already
    # The copy is spelled out field by field; a new NodeResult field must be added there too.
    assert len(dataclasses.fields(NodeResult)) == 11
