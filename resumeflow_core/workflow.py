"""The workflow model: nodes, edges and their definitions, as plain immutable data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_BACKOFF_MULTIPLIER = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a node's failed attempts are retried."""

    max_attempts: int = 1
    """Total attempts, the first included."""
    initial_backoff: float = 0.0
    """Seconds to wait before the second attempt."""
    backoff_multiplier: float = DEFAULT_BACKOFF_MULTIPLIER
    """Factor applied to each further wait."""
    max_backoff: float | None = None
    """Upper bound of one wait, in seconds; None means no cap."""

    def backoff(self, failed_attempt: int) -> float:
        """Seconds to wait after attempt number `failed_attempt` (counted from 1) failed."""
        wait = self.initial_backoff * self.backoff_multiplier ** (failed_attempt - 1)
        return wait if self.max_backoff is None else min(wait, self.max_backoff)


@dataclass(frozen=True)
class Node:
    """One step of a workflow."""

    id: str
    type: str
    label: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout: float | None = None
    """Seconds one attempt may take; None means no limit."""

    def definition_hash(self) -> str:
        """A stable hash of everything that decides what the node does (its label excluded)."""
        retry = self.retry
        payload = {
            "type": self.type,
            "config": self.config,
            "retry": None
            if retry is None
            else [retry.max_attempts, retry.initial_backoff, retry.backoff_multiplier, retry.max_backoff],
            "timeout": self.timeout,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Edge:
    """A dependency: `target` runs after `source`; `branch` picks a condition's outcome."""

    source: str
    target: str
    branch: str = ""


@dataclass(frozen=True)
class Workflow:
    """A versioned workflow definition."""

    id: str
    name: str = ""
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()
    version: int = 0
    create_time: datetime | None = None
    update_time: datetime | None = None

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def same_definition(self, other: Workflow) -> bool:
        """True when both define the same graph, whatever their versions and timestamps."""
        return (self.name, self.nodes, self.edges) == (other.name, other.nodes, other.edges)
