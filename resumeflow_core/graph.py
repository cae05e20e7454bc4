"""Pure graph algorithms over node ids: deterministic topological order and cycle detection."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence


def topological_order(node_ids: Iterable[str], children: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm with ties broken by node id, so the order is the same on every call.

    Raises:
        ValueError: The graph has a cycle.
    """
    nodes = list(node_ids)
    indegree = dict.fromkeys(nodes, 0)
    for source in nodes:
        for child in children.get(source, ()):
            indegree[child] += 1
    ready = [node for node, degree in indegree.items() if degree == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in children.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(nodes):
        raise ValueError("graph has a cycle")
    return order


def find_cycle(node_ids: Iterable[str], children: Mapping[str, Sequence[str]]) -> list[str]:
    """Return one cycle as a closed path of node ids (first == last), or [] when there is none."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(node_ids, white)
    for root in sorted(color):
        if color[root] != white:
            continue
        path = [root]
        iterators = [iter(children.get(root, ()))]
        color[root] = grey
        while iterators:
            child = next(iterators[-1], None)
            if child is None:
                color[path.pop()] = black
                iterators.pop()
            elif color.get(child, black) == grey:
                return path[path.index(child) :] + [child]
            elif color.get(child) == white:
                color[child] = grey
                path.append(child)
                iterators.append(iter(children.get(child, ())))
    return []
