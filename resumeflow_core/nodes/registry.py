"""Looks up node types by name: the built-ins plus plugins of the `resumeflow.nodes` entry-point group."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from resumeflow_core.nodes.base import NodeType

ENTRY_POINT_GROUP = "resumeflow.nodes"

log = logging.getLogger(__name__)


class NodeTypeRegistry:
    """A name → node type table."""

    def __init__(self, types: Iterable[NodeType] = ()) -> None:
        self._types: dict[str, NodeType] = {}
        for node_type in types:
            self.register(node_type)

    def register(self, node_type: NodeType) -> None:
        self._types[node_type.name] = node_type

    def get(self, name: str) -> NodeType | None:
        return self._types.get(name)

    def names(self) -> list[str]:
        return sorted(self._types)


def load_plugins(registry: NodeTypeRegistry) -> None:
    """Register every node type class published under the `resumeflow.nodes` entry-point group."""
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            node_type = entry.load()()
        except Exception:  # a broken plugin must not take the service down
            log.exception("cannot load node type plugin %r", entry.name)
            continue
        registry.register(node_type)


def default_registry() -> NodeTypeRegistry:
    """The built-in node types plus installed plugins."""
    from resumeflow_core.nodes.builtin import BUILTIN_TYPES

    registry = NodeTypeRegistry(cls() for cls in BUILTIN_TYPES)
    load_plugins(registry)
    return registry
