"""Checks that a workflow is a valid graph, collecting every problem before raising."""

from __future__ import annotations

import math
import re
from collections import defaultdict

from resumeflow_core import templates
from resumeflow_core.errors import FieldViolation, InvalidWorkflowError
from resumeflow_core.graph import find_cycle
from resumeflow_core.limits import id_problem, text_problem
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.reasons import TEMPLATE_LIMIT, UNKNOWN_NODE_TYPE
from resumeflow_core.workflow import RetryPolicy, Workflow

WORKFLOW_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
BRANCHES = ("true", "false")


def validate_workflow(workflow: Workflow, registry: NodeTypeRegistry) -> None:
    """Raise InvalidWorkflowError listing every problem of `workflow`; return when it is valid."""
    problems = _Problems()
    if not WORKFLOW_ID_PATTERN.fullmatch(workflow.id):
        problems.add("workflow.id", "must match [a-z0-9][a-z0-9_-]{0,62}", "INVALID_ID")
    name_problem = text_problem(workflow.name)
    if name_problem is not None:
        problems.add("workflow.name", *name_problem)
    node_types = _check_nodes(workflow, registry, problems)
    valid_edges = _check_edges(workflow, node_types, problems)
    # Shape checks run on the usable edges even when other problems were found: the
    # caller must see every problem at once, a cycle included.
    _check_shape(workflow, valid_edges, problems)
    if problems.violations:
        count = len(problems.violations)
        raise InvalidWorkflowError(
            f"workflow {workflow.id!r} is invalid: {count} problem{'s' if count > 1 else ''}",
            metadata={"workflow_id": workflow.id},
            violations=problems.violations,
        )


class _Problems:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, field: str, description: str, reason: str) -> None:
        self.violations.append(FieldViolation(field, description, reason))


def _check_nodes(workflow: Workflow, registry: NodeTypeRegistry, problems: _Problems) -> dict[str, str]:
    """Check ids, types and configs; return node id → type for the nodes with a usable id."""
    node_types: dict[str, str] = {}
    starts = []
    if not workflow.nodes:
        problems.add("workflow.nodes", "a workflow needs at least a start node", "NO_NODES")
    for index, node in enumerate(workflow.nodes):
        path = f"workflow.nodes[{index}]"
        if not node.id:
            problems.add(f"{path}.id", "must not be empty", "EMPTY_NODE_ID")
        elif (problem := id_problem(node.id)) is not None:
            problems.add(f"{path}.id", *problem)
        elif node.id in node_types:
            problems.add(f"{path}.id", f"duplicate node id {node.id!r}", "DUPLICATE_NODE_ID")
        else:
            node_types[node.id] = node.type
        if node.type == "start":
            starts.append(node.id)
        node_type = registry.get(node.type)
        if node_type is None:
            known = ", ".join(registry.names())
            problems.add(
                f"{path}.type", f"unknown node type {node.type!r} (known: {known})", UNKNOWN_NODE_TYPE
            )
        else:
            for key, description in node_type.validate_config(node.config):
                problems.add(
                    f"{path}.config.{key}" if key else f"{path}.config", description, "INVALID_NODE_CONFIG"
                )
            for key, description in templates.limit_problems(
                node.config, expression_keys=node_type.late_keys
            ):
                problems.add(f"{path}.config.{key}", description, TEMPLATE_LIMIT)
        if node.retry is not None:
            _check_retry(node.retry, f"{path}.retry", problems)
        if node.timeout is not None and node.timeout <= 0:
            problems.add(f"{path}.timeout", "must be positive", "INVALID_TIMEOUT")
    if workflow.nodes and len(starts) != 1:
        problems.add(
            "workflow.nodes",
            f"exactly one node of type 'start' is required, found {len(starts)}",
            "START_NODE_COUNT",
        )
    return node_types


def _check_retry(retry: RetryPolicy, path: str, problems: _Problems) -> None:
    if retry.max_attempts < 0:
        problems.add(f"{path}.max_attempts", "must not be negative", "INVALID_RETRY")
    if not (math.isfinite(retry.backoff_multiplier) and retry.backoff_multiplier >= 0):
        problems.add(f"{path}.backoff_multiplier", "must be a finite number, not negative", "INVALID_RETRY")
    for name, value in (("initial_backoff", retry.initial_backoff), ("max_backoff", retry.max_backoff)):
        if value is not None and value < 0:
            problems.add(f"{path}.{name}", "must not be negative", "INVALID_RETRY")


def _check_edges(
    workflow: Workflow, node_types: dict[str, str], problems: _Problems
) -> list[tuple[str, str]]:
    """Check that edges name existing nodes and valid branches; return the usable (source, target) pairs."""
    seen: set[tuple[str, str, str]] = set()
    valid: list[tuple[str, str]] = []
    for index, edge in enumerate(workflow.edges):
        path = f"workflow.edges[{index}]"
        ok = True
        for end in ("source", "target"):
            node_id = getattr(edge, end)
            if node_id not in node_types:
                problems.add(f"{path}.{end}", f"no node has id {node_id!r}", "UNKNOWN_EDGE_NODE")
                ok = False
        if edge.source == edge.target and ok:
            problems.add(path, f"node {edge.source!r} depends on itself", "SELF_LOOP")
            ok = False
        key = (edge.source, edge.target, edge.branch)
        if key in seen:
            problems.add(path, f"duplicate edge {edge.source!r} -> {edge.target!r}", "DUPLICATE_EDGE")
        seen.add(key)
        source_type = node_types.get(edge.source)
        if edge.branch and edge.branch not in BRANCHES:
            problems.add(f"{path}.branch", "must be 'true', 'false' or empty", "INVALID_BRANCH")
        elif edge.branch and source_type not in (None, "condition"):
            problems.add(
                f"{path}.branch", "only edges out of a condition node take a branch", "INVALID_BRANCH"
            )
        elif not edge.branch and source_type == "condition":
            problems.add(
                f"{path}.branch",
                "edges out of a condition node need branch 'true' or 'false'",
                "MISSING_BRANCH",
            )
        if node_types.get(edge.target) == "start":
            problems.add(f"{path}.target", "the start node cannot have incoming edges", "EDGE_INTO_START")
        if ok:
            valid.append((edge.source, edge.target))
    return valid


def _check_shape(workflow: Workflow, edges: list[tuple[str, str]], problems: _Problems) -> None:
    """Check acyclicity and that every node is reachable from a start node."""
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        children[source].append(target)
    cycle = find_cycle([node.id for node in workflow.nodes], children)
    if cycle:
        problems.add("workflow.edges", "the graph has a cycle: " + " -> ".join(cycle), "CYCLE")
    starts = [node.id for node in workflow.nodes if node.type == "start"]
    if not starts:
        return  # already reported; with no start node every node would be "unreachable"
    # With several start nodes (reported already) a node none of them reaches is still a problem.
    reached = set(starts)
    stack = list(starts)
    while stack:
        for child in children[stack.pop()]:
            if child not in reached:
                reached.add(child)
                stack.append(child)
    for index, node in enumerate(workflow.nodes):
        if node.id not in reached:
            problems.add(
                f"workflow.nodes[{index}]",
                f"node {node.id!r} is not reachable from the start node",
                "UNREACHABLE_NODE",
            )
