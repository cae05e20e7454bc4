"""The execution plan: an immutable view of a validated workflow graph in deterministic order."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from resumeflow_core.graph import topological_order
from resumeflow_core.workflow import Node, Workflow

UNCONDITIONAL = ""
"""The branch of an edge that is taken whenever its source succeeds."""


@dataclass(frozen=True)
class ExecutionPlan:
    """Nodes, dependencies and order of one workflow, as the state machine and executor need them.

    Build it with `ExecutionPlan.build`; the workflow must already have passed
    `resumeflow_core.validation.validate_workflow`.
    """

    workflow: Workflow
    nodes: Mapping[str, Node]
    """Node id → node."""
    order: tuple[str, ...]
    """Every node id in topological order, ties broken by node id."""
    parents: Mapping[str, tuple[str, ...]]
    """Node id → its parents, in plan order."""
    children: Mapping[str, tuple[str, ...]]
    """Node id → its children, in plan order."""
    edge_branches: Mapping[tuple[str, str], frozenset[str]]
    """(source, target) → the branches of the edges between them ("" for unconditional)."""
    _positions: Mapping[str, int]

    @classmethod
    def build(cls, workflow: Workflow) -> ExecutionPlan:
        """Index `workflow`.

        Raises:
            ValueError: The graph has a cycle (it was not validated).
        """
        ids = [node.id for node in workflow.nodes]
        branches: dict[tuple[str, str], set[str]] = {}
        children: dict[str, list[str]] = {node_id: [] for node_id in ids}
        for edge in workflow.edges:
            key = (edge.source, edge.target)
            if key not in branches:
                branches[key] = set()
                children[edge.source].append(edge.target)
            branches[key].add(edge.branch)
        order = tuple(topological_order(ids, children))
        positions = {node_id: index for index, node_id in enumerate(order)}
        parents: dict[str, list[str]] = {node_id: [] for node_id in ids}
        for source, target in branches:
            parents[target].append(source)

        def ordered(table: dict[str, list[str]]) -> Mapping[str, tuple[str, ...]]:
            return MappingProxyType(
                {k: tuple(sorted(v, key=positions.__getitem__)) for k, v in table.items()}
            )

        return cls(
            workflow=workflow,
            nodes=MappingProxyType({node.id: node for node in workflow.nodes}),
            order=order,
            parents=ordered(parents),
            children=ordered(children),
            edge_branches=MappingProxyType({key: frozenset(value) for key, value in branches.items()}),
            _positions=MappingProxyType(positions),
        )

    def position(self, node_id: str) -> int:
        """The index of `node_id` in `order`."""
        return self._positions[node_id]

    def sort(self, node_ids: Iterable[str]) -> list[str]:
        """`node_ids` in plan order."""
        return sorted(node_ids, key=self._positions.__getitem__)

    def descendants(self, node_ids: Iterable[str]) -> frozenset[str]:
        """Every node reachable from `node_ids` through edges, the given nodes excluded unless reachable."""
        found: set[str] = set()
        stack = [child for node_id in node_ids for child in self.children[node_id]]
        while stack:
            node_id = stack.pop()
            if node_id not in found:
                found.add(node_id)
                stack.extend(self.children[node_id])
        return frozenset(found)

    def edge_taken(self, source: str, target: str, chosen_branch: str | None) -> bool:
        """Whether the edge source → target carries the run on, given the branch `source` chose."""
        branches = self.edge_branches[(source, target)]
        return UNCONDITIONAL in branches or (chosen_branch is not None and chosen_branch in branches)

    @functools.cached_property
    def definition_hashes(self) -> Mapping[str, str]:
        """Node id → `Node.definition_hash()`, computed once per plan."""
        return MappingProxyType({node_id: node.definition_hash() for node_id, node in self.nodes.items()})

    @functools.cached_property
    def parent_counts(self) -> Mapping[str, int]:
        """Node id → how many parents it has; a fresh run's state starts from a copy."""
        return MappingProxyType({node_id: len(parents) for node_id, parents in self.parents.items()})

    @functools.cached_property
    def roots(self) -> tuple[tuple[int, str], ...]:
        """(position, node id) of the nodes without parents, in plan order."""
        return tuple(
            (index, node_id) for index, node_id in enumerate(self.order) if not self.parents[node_id]
        )
