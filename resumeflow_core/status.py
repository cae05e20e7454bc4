"""Lifecycle enums shared by both services, numbered exactly as in the protos."""

from __future__ import annotations

import enum


class RunStatus(enum.IntEnum):
    """The lifecycle state of a run."""

    UNSPECIFIED = 0
    QUEUED = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    CANCELLED = 5

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_RUN


class NodeStatus(enum.IntEnum):
    """The state of one node within one run."""

    UNSPECIFIED = 0
    PENDING = 1
    RUNNING = 2
    SUCCEEDED = 3
    FAILED = 4
    SKIPPED = 5
    RESTORED = 6
    BLOCKED = 7
    CANCELLED = 8

    @property
    def is_terminal(self) -> bool:
        return self not in _UNFINISHED_NODE

    @property
    def is_success(self) -> bool:
        """True for statuses whose result downstream nodes may use."""
        return self in _SUCCESSFUL_NODE


class ResumeMode(enum.IntEnum):
    """How a resume chooses the nodes it re-runs."""

    UNSPECIFIED = 0
    SINGLE = 1
    ALL_FAILED = 2


class EventKind(enum.IntEnum):
    """The kind of an event in a run's log."""

    UNSPECIFIED = 0
    RUN_STARTED = 1
    NODE_STATUS = 2
    RUN_FINISHED = 3


_TERMINAL_RUN = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})
# Sets, not tuples: the engine asks these several times per node.
_UNFINISHED_NODE = frozenset({NodeStatus.UNSPECIFIED, NodeStatus.PENDING, NodeStatus.RUNNING})
_SUCCESSFUL_NODE = frozenset({NodeStatus.SUCCEEDED, NodeStatus.RESTORED})
