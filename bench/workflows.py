"""The workflow shapes the benchmarks run, built as protobuf messages."""

from __future__ import annotations

from resumeflow.v1 import workflow_pb2

NODES = 1000


def _node(node_id: str, node_type: str = "noop", **config: object) -> workflow_pb2.Node:
    message = workflow_pb2.Node(id=node_id, type=node_type)
    if config:
        message.config.update(config)
    return message


def _workflow(
    workflow_id: str, nodes: list[workflow_pb2.Node], edges: list[tuple[str, str]]
) -> workflow_pb2.Workflow:
    return workflow_pb2.Workflow(
        id=workflow_id,
        name=workflow_id,
        nodes=nodes,
        edges=[workflow_pb2.Edge(source=source, target=target) for source, target in edges],
    )


def linear(workflow_id: str, nodes: int = NODES) -> workflow_pb2.Workflow:
    """start → n1 → … → end: `nodes` nodes in one chain."""
    ids = ["start", *(f"n{i}" for i in range(1, nodes - 1)), "end"]
    kinds = ["start", *(["noop"] * (nodes - 2)), "end"]
    return _workflow(
        workflow_id,
        [_node(i, k) for i, k in zip(ids, kinds, strict=True)],
        list(zip(ids, ids[1:], strict=False)),
    )


def wide(workflow_id: str, nodes: int = NODES) -> workflow_pb2.Workflow:
    """start → (nodes - 2) parallel noops → end."""
    middle = [f"n{i}" for i in range(1, nodes - 1)]
    edges = [("start", m) for m in middle] + [(m, "end") for m in middle]
    return _workflow(workflow_id, [_node("start", "start"), *map(_node, middle), _node("end", "end")], edges)


def grid(
    workflow_id: str, layers: int = 10, width: int = 100, failing: str = "", fail_when: str = ""
) -> workflow_pb2.Workflow:
    """start → `layers` layers of `width` nodes, each depending on two of the layer before → end.

    With `failing`, that node is a `set` node that fails (undefined name) while `env.fail` is
    `fail_when`, so benchmarks can make a run fail at one node and resume it.
    """
    nodes = [_node("start", "start"), _node("end", "end")]
    edges: list[tuple[str, str]] = []
    for layer in range(layers):
        for column in range(width):
            node_id = f"l{layer}c{column}"
            if node_id == failing:
                value = f"{{{{ 1 if env.fail != '{fail_when}' else no_such_name }}}}"
                nodes.append(_node(node_id, "set", values={"ok": value}))
            else:
                nodes.append(_node(node_id))
            if layer == 0:
                edges.append(("start", node_id))
            else:
                edges.append((f"l{layer - 1}c{column}", node_id))
                edges.append((f"l{layer - 1}c{(column + 1) % width}", node_id))
            if layer == layers - 1:
                edges.append((node_id, "end"))
    return _workflow(workflow_id, nodes, edges)
