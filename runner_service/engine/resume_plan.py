"""Resume planning (SPEC §5): what a resume of a failed run re-runs, reuses and carries, and why. Pure.

`plan_resume` reads a plan and a view of the source run's lineage and answers a `ResumePlan`:
every node's fate, the `preset` results and `initial_variables` the `Executor` starts from,
and every problem a real resume would be rejected for (all of them, never only the first).
It does no I/O: the caller (`runner_service/resume_preparation.py`) loads the lineage, and turns
violations and problems into errors.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from resumeflow_core import templates
from resumeflow_core.errors import FieldViolation
from resumeflow_core.lineage import replay_variables
from resumeflow_core.nodes.builtin import BUILTIN_TYPES
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.reasons import (
    MISSING_PRIOR_RESULT,
    MISSING_SECRET,
    SOURCE_NOT_FAILED,
    SOURCE_OTHER_WORKFLOW,
    WORKFLOW_DRIFT,
)
from resumeflow_core.records import NodeResult, Run
from resumeflow_core.status import NodeStatus, ResumeMode, RunStatus
from runner_service.engine.plan import ExecutionPlan

# INVALID_ARGUMENT reasons: problems of the requested start nodes (field violations).
UNKNOWN_NODE = "UNKNOWN_NODE"
START_OR_END_NODE = "START_OR_END_NODE"
DUPLICATE_NODE = "DUPLICATE_NODE"
TOO_MANY_START_NODES = "TOO_MANY_START_NODES"

START_NODE_IDS_FIELD = "resume.start_node_ids"

_RESUMABLE_SOURCES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED})
_RAN = frozenset({NodeStatus.SUCCEEDED, NodeStatus.RESTORED, NodeStatus.SKIPPED, NodeStatus.FAILED})
"""Effective statuses a node keeps across a resume; any other status means it never ran."""
_MARKER_TYPES = frozenset({"start", "end"})


class NodeFate(enum.IntEnum):
    """What a resume does with one node; numbered as the proto's NodeFate."""

    RERUN = 1
    """The node runs again."""
    RESTORED = 2
    """The node's result is reused from the run that produced it."""
    CARRIED_FAILURE = 3
    """The node failed before, is not selected, and stays FAILED."""
    BLOCKED = 4
    """A carried failure precedes the node: it will be BLOCKED."""
    SKIPPED = 5
    """The node was skipped (no path into it taken) and stays SKIPPED."""


@dataclass(frozen=True)
class LineageView:
    """What the planner knows of the run being resumed and of its ancestors."""

    source: Run
    """The run being resumed."""
    runs: Sequence[Run]
    """The lineage: the source first … the root last (the source included)."""
    results: Mapping[str, NodeResult]
    """The source run's effective result per node id; `source_run_id` is the run that produced it."""
    source_node_ids: frozenset[str]
    """The node ids of the source run's workflow version."""


@dataclass(frozen=True)
class PlannedNode:
    """The fate of one node in a resume."""

    node_id: str
    fate: NodeFate
    source_run_id: str
    """The run whose result is reused (RESTORED) or carried (CARRIED_FAILURE, SKIPPED); else ""."""
    reason: str
    """Why this fate, in one sentence."""


@dataclass(frozen=True)
class ResumeProblem:
    """A reason a real resume would be rejected with FAILED_PRECONDITION."""

    reason: str
    """Machine-readable, for google.rpc.ErrorInfo.reason (e.g. `MISSING_PRIOR_RESULT`)."""
    message: str
    metadata: Mapping[str, str]
    """Context for ErrorInfo.metadata; lists are comma-separated."""


@dataclass(frozen=True)
class ResumePlan:
    """A planned resume: every node's fate, what the executor starts from, and what is wrong with it.

    The resume may run only when `violations` and `problems` are both empty (`accepted`).
    """

    source_run_id: str
    mode: ResumeMode
    """SINGLE or ALL_FAILED (an unspecified mode plans as SINGLE)."""
    workflow_id: str
    workflow_version: int
    """The version the resume would run: the plan's."""
    start_node_ids: tuple[str, ...]
    """The nodes the resume starts from, in plan order."""
    nodes: tuple[PlannedNode, ...]
    """Every node of the plan, in plan (topological) order."""
    preset: Mapping[str, NodeResult]
    """RESTORED, carried FAILED and SKIPPED results: the executor's `preset`."""
    initial_variables: Mapping[str, Any]
    """Root inputs (overridden by the request's), then the restored nodes' writes replayed in order."""
    violations: tuple[FieldViolation, ...]
    """INVALID_ARGUMENT problems of the request's start nodes."""
    problems: tuple[ResumeProblem, ...]
    """FAILED_PRECONDITION problems."""
    restored_node_ids: tuple[str, ...]
    """Nodes whose results are reused, in plan order."""

    @property
    def accepted(self) -> bool:
        """True when a real resume would run this plan."""
        return not self.violations and not self.problems

    def node(self, node_id: str) -> PlannedNode:
        """The planned fate of `node_id`.

        Raises:
            KeyError: No such node in the plan.
        """
        for planned in self.nodes:
            if planned.node_id == node_id:
                return planned
        raise KeyError(node_id)

    def node_ids(self, fate: NodeFate) -> tuple[str, ...]:
        """The nodes with `fate`, in plan order."""
        return tuple(planned.node_id for planned in self.nodes if planned.fate is fate)

    def digest(self) -> str:
        """A stable hash of what the plan would do, for plan tokens.

        Covers the source run, mode, workflow id and version, start nodes, and every node's fate
        and source run: the same request over an unchanged lineage and definition gives the same
        digest, and anything that changes a fate changes it.
        """
        payload = [
            self.source_run_id,
            int(self.mode),
            self.workflow_id,
            self.workflow_version,
            list(self.start_node_ids),
            [[planned.node_id, int(planned.fate), planned.source_run_id] for planned in self.nodes],
        ]
        canonical = json.dumps(payload, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def plan_resume(
    plan: ExecutionPlan,
    lineage: LineageView,
    *,
    mode: ResumeMode,
    start_node_ids: Sequence[str] = (),
    rerun_changed_nodes: bool = False,
    secret_names: Collection[str] = (),
    inputs: Mapping[str, Any] | None = None,
    registry: NodeTypeRegistry | None = None,
) -> ResumePlan:
    """Plan a resume of `lineage.source` on `plan`, collecting every problem.

    The execution set is the start nodes, every node that never ran in the lineage (BLOCKED,
    CANCELLED, PENDING, RUNNING, or new in this version) and, with `rerun_changed_nodes`, every
    node whose definition changed since its result was produced; plus all their descendants.
    Inside it a node re-runs, or is BLOCKED when a carried failure precedes it. Outside it a node
    keeps its effective result: RESTORED, carried FAILED, or SKIPPED.

    Args:
        plan: The plan of the workflow version the resume would run.
        lineage: The source run, its lineage and effective results.
        mode: SINGLE (default start: the first failed node) or ALL_FAILED (all failed nodes);
            UNSPECIFIED plans as SINGLE.
        start_node_ids: Explicit start nodes; empty means the mode's default.
        rerun_changed_nodes: Re-run reused nodes whose definition changed (and their
            descendants) instead of reporting WORKFLOW_DRIFT.
        secret_names: The runtime secrets the resume is given.
        inputs: The request's inputs; they override the root run's inputs.
        registry: Node types, to know which config keys are bare expressions when looking for
            secret references; default: the built-in types.

    Returns:
        The plan; it may run only when `accepted`.
    """
    if mode is ResumeMode.UNSPECIFIED:
        mode = ResumeMode.SINGLE
    source = lineage.source
    results = {node_id: lineage.results[node_id] for node_id in plan.order if node_id in lineage.results}
    producers = {node_id: result.source_run_id or source.id for node_id, result in results.items()}

    starts, violations = _start_nodes(plan, results, mode, start_node_ids)
    seeds = _seeds(plan, lineage, results, producers, starts)
    planned = _fates(plan, results, producers, seeds, starts)

    problems = _source_problems(plan, source)
    changed = _changed_nodes(plan, results, planned)
    if changed and rerun_changed_nodes:
        for node_id in changed:
            seeds[node_id] = (
                f"its definition changed since run {producers[node_id]} produced its result, so it re-runs"
            )
        planned = _fates(plan, results, producers, seeds, starts)
    elif changed:
        problems.append(_drift_problem(source, changed))

    missing = _missing_results(plan, lineage, results, producers, planned)
    if missing:
        problems.append(_missing_problem(source, missing))
    secrets_problem = _secrets_problem(plan, planned, secret_names, registry)
    if secrets_problem is not None:
        problems.append(secrets_problem)

    preset = _presets(plan, results, producers, planned, unusable=frozenset(missing))
    restored = tuple(node_id for node_id in preset if preset[node_id].status is NodeStatus.RESTORED)
    return ResumePlan(
        source_run_id=source.id,
        mode=mode,
        workflow_id=plan.workflow.id,
        workflow_version=plan.workflow.version,
        start_node_ids=tuple(starts),
        nodes=tuple(planned[node_id] for node_id in plan.order),
        preset=MappingProxyType(preset),
        initial_variables=MappingProxyType(_variables(lineage, preset, restored, inputs)),
        violations=tuple(violations),
        problems=tuple(problems),
        restored_node_ids=restored,
    )


def _changed_nodes(
    plan: ExecutionPlan, results: Mapping[str, NodeResult], planned: Mapping[str, PlannedNode]
) -> list[str]:
    """The nodes to restore whose definition changed since their result was produced, in plan order."""
    return [
        node_id
        for node_id in plan.order
        if planned[node_id].fate is NodeFate.RESTORED
        and node_id in results
        and results[node_id].definition_hash
        and results[node_id].definition_hash != plan.definition_hashes[node_id]
    ]


def _missing_results(
    plan: ExecutionPlan,
    lineage: LineageView,
    results: Mapping[str, NodeResult],
    producers: Mapping[str, str],
    planned: Mapping[str, PlannedNode],
) -> list[str]:
    """The nodes to restore or carry whose result is gone from the lineage, in plan order."""
    run_ids = {run.id for run in lineage.runs}
    return [
        node_id
        for node_id in plan.order
        if planned[node_id].fate in (NodeFate.RESTORED, NodeFate.CARRIED_FAILURE)
        and (node_id not in results or producers[node_id] not in run_ids)
    ]


def _presets(
    plan: ExecutionPlan,
    results: Mapping[str, NodeResult],
    producers: Mapping[str, str],
    planned: Mapping[str, PlannedNode],
    *,
    unusable: Collection[str],
) -> dict[str, NodeResult]:
    """The results the executor starts from: every kept node's, in plan order, but the unusable."""
    return {
        node_id: _preset(results[node_id], producers[node_id], planned[node_id].fate)
        for node_id in plan.order
        if planned[node_id].fate in (NodeFate.RESTORED, NodeFate.CARRIED_FAILURE, NodeFate.SKIPPED)
        and node_id in results
        and node_id not in unusable
    }


def _start_nodes(
    plan: ExecutionPlan,
    results: Mapping[str, NodeResult],
    mode: ResumeMode,
    requested: Sequence[str],
) -> tuple[list[str], list[FieldViolation]]:
    """The start nodes in plan order, and every violation of the requested ones.

    Failed nodes of the source that are gone from the plan were dropped with `results`.
    """
    if not requested:
        failed = [
            node_id for node_id in plan.order if results.get(node_id, _NONE).status is NodeStatus.FAILED
        ]
        return (failed[:1] if mode is ResumeMode.SINGLE else failed), []
    violations: list[FieldViolation] = []
    seen: set[str] = set()
    valid: list[str] = []
    for index, node_id in enumerate(requested):
        field = f"{START_NODE_IDS_FIELD}[{index}]"
        if node_id in seen:
            violations.append(FieldViolation(field, f"node {node_id!r} is named twice", DUPLICATE_NODE))
            continue
        seen.add(node_id)
        node = plan.nodes.get(node_id)
        if node is None:
            version = plan.workflow.version
            violations.append(
                FieldViolation(
                    field,
                    f"workflow {plan.workflow.id!r} version {version} has no node {node_id!r}",
                    UNKNOWN_NODE,
                )
            )
        elif node.type in _MARKER_TYPES:
            violations.append(
                FieldViolation(
                    field,
                    f"node {node_id!r} is the {node.type} node; a resume cannot start from it",
                    START_OR_END_NODE,
                )
            )
        else:
            valid.append(node_id)
    if mode is ResumeMode.SINGLE and len(requested) > 1:
        violations.append(
            FieldViolation(
                START_NODE_IDS_FIELD,
                f"a SINGLE resume starts from exactly one node, not {len(requested)}",
                TOO_MANY_START_NODES,
            )
        )
    return plan.sort(valid), violations


def _seeds(
    plan: ExecutionPlan,
    lineage: LineageView,
    results: Mapping[str, NodeResult],
    producers: Mapping[str, str],
    starts: Sequence[str],
) -> dict[str, str]:
    """The nodes that open the execution set by themselves (not as descendants), with why."""
    seeds = dict.fromkeys(starts, "start node of the resume")
    for node_id in plan.order:
        if node_id in seeds:
            continue
        result = results.get(node_id)
        if result is None:
            if node_id not in lineage.source_node_ids:
                seeds[node_id] = "new in this workflow version: never ran in the lineage"
        elif result.status not in _RAN:
            status = result.status.name if result.status else "without a status"
            seeds[node_id] = f"never ran in the lineage ({status} in run {producers[node_id]})"
    return seeds


def _fates(
    plan: ExecutionPlan,
    results: Mapping[str, NodeResult],
    producers: Mapping[str, str],
    seeds: Mapping[str, str],
    starts: Collection[str],
) -> dict[str, PlannedNode]:
    """Every node's fate, in plan order, given the seeds of the execution set (with their reasons)."""
    planned: dict[str, PlannedNode] = {}
    # Execution-set node → the seed its reason names: itself for a start node or a seed with
    # nothing re-run above it, else the seed of its first re-run parent.
    origin: dict[str, str] = {}
    # Node → the first carried failure above it, in plan order.
    blocked_by: dict[str, str] = {}
    for node_id in plan.order:
        parents = plan.parents[node_id]
        culprits = [
            parent if planned[parent].fate is NodeFate.CARRIED_FAILURE else blocked_by.get(parent)
            for parent in parents
        ]
        culprit = min((c for c in culprits if c), key=plan.position, default=None)
        if culprit is not None:
            blocked_by[node_id] = culprit
        upstream = [parent for parent in parents if parent in origin]
        if node_id in seeds or upstream:
            if node_id in seeds and (not upstream or node_id in starts):
                origin[node_id], reason = node_id, seeds[node_id]
            else:
                origin[node_id] = origin[upstream[0]]
                reason = f"downstream of {origin[node_id]}"
            if culprit is None:
                planned[node_id] = PlannedNode(node_id, NodeFate.RERUN, "", reason)
            else:
                planned[node_id] = _blocked(node_id, culprit)
            continue
        result = results.get(node_id)
        producer = producers.get(node_id, "")
        if culprit is not None:
            # Only when edges changed across versions: a reused node under a carried failure.
            planned[node_id] = _blocked(node_id, culprit)
        elif result is None:
            planned[node_id] = PlannedNode(
                node_id, NodeFate.RESTORED, "", "needs its result from the lineage, but none is left"
            )
        elif result.status is NodeStatus.FAILED:
            reason = f"failed in run {producer} and not selected"
            planned[node_id] = PlannedNode(node_id, NodeFate.CARRIED_FAILURE, producer, reason)
        elif result.status is NodeStatus.SKIPPED:
            reason = f"skipped in run {producer}, where no path into it was taken"
            planned[node_id] = PlannedNode(node_id, NodeFate.SKIPPED, producer, reason)
        else:
            planned[node_id] = PlannedNode(
                node_id, NodeFate.RESTORED, producer, f"restored from run {producer}"
            )
    return planned


def _blocked(node_id: str, culprit: str) -> PlannedNode:
    return PlannedNode(node_id, NodeFate.BLOCKED, "", f"blocked by carried failure {culprit}")


def _source_problems(plan: ExecutionPlan, source: Run) -> list[ResumeProblem]:
    problems = []
    if source.workflow_id != plan.workflow.id:
        problems.append(
            ResumeProblem(
                SOURCE_OTHER_WORKFLOW,
                f"run {source.id} belongs to workflow {source.workflow_id!r}, not {plan.workflow.id!r}",
                {
                    "source_run_id": source.id,
                    "source_workflow_id": source.workflow_id,
                    "workflow_id": plan.workflow.id,
                },
            )
        )
    if source.status not in _RESUMABLE_SOURCES:
        problems.append(
            ResumeProblem(
                SOURCE_NOT_FAILED,
                f"run {source.id} is {source.status.name}; only a FAILED or CANCELLED run can be resumed",
                {"source_run_id": source.id, "status": source.status.name},
            )
        )
    return problems


def _drift_problem(source: Run, changed: Sequence[str]) -> ResumeProblem:
    names = ", ".join(changed)
    return ResumeProblem(
        WORKFLOW_DRIFT,
        f"the definition of {names} changed since the results the resume would reuse were produced; "
        "re-run changed nodes, pin the source run's workflow version, or start a full run",
        {"source_run_id": source.id, "node_ids": ",".join(changed)},
    )


def _missing_problem(source: Run, missing: Sequence[str]) -> ResumeProblem:
    names = ", ".join(missing)
    return ResumeProblem(
        MISSING_PRIOR_RESULT,
        f"the lineage of run {source.id} no longer holds the results of {names} that the resume "
        "needs; start a full run instead",
        {"source_run_id": source.id, "node_ids": ",".join(missing)},
    )


def _secrets_problem(
    plan: ExecutionPlan,
    planned: Mapping[str, PlannedNode],
    secret_names: Collection[str],
    registry: NodeTypeRegistry | None,
) -> ResumeProblem | None:
    """MISSING_SECRET for the secrets the re-run nodes' templates name and the request lacks."""
    registry = registry or _BUILTIN_REGISTRY
    given = set(secret_names)
    missing: set[str] = set()
    needing: list[str] = []
    for node_id in plan.order:
        if planned[node_id].fate is not NodeFate.RERUN:
            continue
        node = plan.nodes[node_id]
        node_type = registry.get(node.type)
        expression_keys = node_type.late_keys if node_type is not None else frozenset()
        lacking = templates.referenced_names(node.config, "secrets", expression_keys=expression_keys) - given
        if lacking:
            missing |= lacking
            needing.append(node_id)
    if not missing:
        return None
    names = sorted(missing)
    return ResumeProblem(
        MISSING_SECRET,
        f"the re-run nodes need the runtime secret{'s' if len(names) > 1 else ''} {', '.join(names)}; "
        "secrets are never stored, so a resume must be given them again",
        {"missing_secrets": ",".join(names), "node_ids": ",".join(needing)},
    )


def _preset(result: NodeResult, producer: str, fate: NodeFate) -> NodeResult:
    """The result a kept node starts the resume with, produced by `producer`."""
    restored = fate is NodeFate.RESTORED
    # Spelled out rather than dataclasses.replace, which costs several times more per node.
    return NodeResult(
        node_id=result.node_id,
        status=NodeStatus.RESTORED if restored else result.status,
        attempts=result.attempts,
        start_time=result.start_time,
        end_time=result.end_time,
        output=result.output,
        variables=result.variables,
        error=None if restored else result.error,
        source_run_id=producer,
        finish_sequence=result.finish_sequence,
        definition_hash=result.definition_hash,
    )


def _variables(
    lineage: LineageView,
    preset: Mapping[str, NodeResult],
    restored: Sequence[str],
    inputs: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The root's inputs, then the request's, then the restored writes in their original order."""
    root = lineage.runs[-1] if lineage.runs else lineage.source
    base = {**root.inputs, **(inputs or {})}
    depths = {run.id: run.lineage_depth for run in lineage.runs}
    # `restored` is in plan order, and the replay's sort is stable: plan order breaks ties.
    return replay_variables(base, [preset[node_id] for node_id in restored], depths)


_BUILTIN_REGISTRY = NodeTypeRegistry(cls() for cls in BUILTIN_TYPES)
_NONE = NodeResult(node_id="", status=NodeStatus.UNSPECIFIED)
