"""The node types every runner has, before plugins."""

from __future__ import annotations

from resumeflow_core.nodes.base import NodeType
from resumeflow_core.nodes.control import DelayNode, EndNode, NoopNode, StartNode
from resumeflow_core.nodes.data import AssertNode, ConditionNode, SetNode
from resumeflow_core.nodes.http import HttpNode

BUILTIN_TYPES: tuple[type[NodeType], ...] = (
    StartNode,
    EndNode,
    NoopNode,
    DelayNode,
    SetNode,
    AssertNode,
    ConditionNode,
    HttpNode,
)

__all__ = [
    "BUILTIN_TYPES",
    "AssertNode",
    "ConditionNode",
    "DelayNode",
    "EndNode",
    "HttpNode",
    "NoopNode",
    "SetNode",
    "StartNode",
]
