"""Builders shared by the engine tests: workflows written as edge lists."""

from __future__ import annotations

from collections.abc import Iterable

from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Edge, Node, Workflow
from runner_service.engine import ExecutionPlan


def make_workflow(
    edges: Iterable[str],
    nodes: Iterable[Node] = (),
    *,
    registry: NodeTypeRegistry | None = None,
) -> Workflow:
    """A workflow from edges written `"a>b"` or `"cond>b:true"`.

    Nodes named only in edges are `noop`s, except `start` (type start) and ids starting with
    `cond` (type condition, expression `vars.flag`); `nodes` add or replace nodes by id.
    The workflow is validated against `registry` (default: the built-in types).
    """
    parsed = []
    for text in edges:
        pair, _, branch = text.partition(":")
        source, target = pair.split(">")
        parsed.append(Edge(source.strip(), target.strip(), branch.strip()))
    given = {node.id: node for node in nodes}
    ids = ["start"] + sorted({end for edge in parsed for end in (edge.source, edge.target)} - {"start"})
    all_nodes = [given.pop(node_id) if node_id in given else _default_node(node_id) for node_id in ids]
    all_nodes += given.values()
    workflow = Workflow("test", nodes=tuple(all_nodes), edges=tuple(parsed))
    validate_workflow(workflow, registry or default_registry())
    return workflow


def make_plan(
    edges: Iterable[str],
    nodes: Iterable[Node] = (),
    *,
    registry: NodeTypeRegistry | None = None,
) -> ExecutionPlan:
    return ExecutionPlan.build(make_workflow(edges, nodes, registry=registry))


def _default_node(node_id: str) -> Node:
    if node_id == "start":
        return Node("start", "start")
    if node_id.startswith("cond"):
        return Node(node_id, "condition", config={"expression": "vars.flag"})
    return Node(node_id, "noop")


DIAMOND = ["start>a", "start>b", "a>end", "b>end"]
FAN_OUT_JOIN = ["start>a", "start>b", "start>c", "a>join", "b>join", "c>join"]
BRANCHES = ["start>cond", "cond>yes:true", "cond>no:false", "yes>after", "no>after"]
