"""Node types: the contract, the built-ins and the registry."""

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry

__all__ = ["NodeCall", "NodeFailure", "NodeOutcome", "NodeType", "NodeTypeRegistry", "default_registry"]
