"""Pure lineage arithmetic shared by both services: whose result counts, and the variables it implies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from resumeflow_core.records import NodeResult, Run


@dataclass(frozen=True)
class LineageContext:
    """A run's lineage and the effective result of each of its nodes."""

    runs: Sequence[Run]
    """The run first, then its ancestors nearest-first; the root is last."""
    results: Mapping[str, NodeResult]
    """Node id → the result that counts, its `source_run_id` naming the producing run."""
    variables: Mapping[str, Any]
    """The root's inputs with every successful result's variable writes replayed in order."""

    @property
    def run(self) -> Run:
        return self.runs[0]

    @property
    def root(self) -> Run:
        return self.runs[-1]


@dataclass(frozen=True)
class FailedNode:
    """One failed node of a run, as resume pickers show it."""

    node_id: str
    label: str
    type: str
    error_message: str


def with_provenance(run: Run, results: Iterable[NodeResult]) -> dict[str, NodeResult]:
    """The run's stored results keyed by node, each naming its producer (the run itself when it ran there)."""
    return {r.node_id: r if r.source_run_id else _produced_by(r, run.id) for r in results}


def _produced_by(result: NodeResult, run_id: str) -> NodeResult:
    # Spelled out rather than dataclasses.replace, which costs several times more per node.
    return NodeResult(
        node_id=result.node_id,
        status=result.status,
        attempts=result.attempts,
        start_time=result.start_time,
        end_time=result.end_time,
        output=result.output,
        variables=result.variables,
        error=result.error,
        source_run_id=run_id,
        finish_sequence=result.finish_sequence,
        definition_hash=result.definition_hash,
    )


def replay_variables(
    base: Mapping[str, Any], results: Iterable[NodeResult], depth_of: Mapping[str, int]
) -> dict[str, Any]:
    """Apply the results' variable writes to `base` in their original order.

    The original order is the producing run's place in the lineage (older runs first), then the
    sequence at which the node finished in that run. Results whose producer is not in
    `depth_of` are ignored; callers that cannot tolerate that check it first.
    """
    ordered = sorted(
        (r for r in results if r.source_run_id in depth_of and r.variables),
        key=lambda r: (depth_of[r.source_run_id], r.finish_sequence),
    )
    variables = dict(base)
    for result in ordered:
        variables.update(result.variables)
    return variables


def build_context(runs: Sequence[Run], stored: Iterable[NodeResult]) -> LineageContext:
    """Assemble the lineage context of `runs[0]` from its stored results."""
    run = runs[0]
    results = with_provenance(run, stored)
    depth_of = {r.id: r.lineage_depth for r in runs}
    successful = [r for r in results.values() if r.status.is_success]
    return LineageContext(runs, results, replay_variables(runs[-1].inputs, successful, depth_of))
