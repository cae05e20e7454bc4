"""The run state machine: which nodes may run, and which are skipped, blocked or cancelled. No I/O."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from resumeflow_core.records import NodeResult
from resumeflow_core.status import NodeStatus, RunStatus
from runner_service.engine.plan import ExecutionPlan

Transition = tuple[str, NodeStatus]
"""An automatic transition: (node id, SKIPPED | BLOCKED | CANCELLED)."""

_UNUSABLE = frozenset({NodeStatus.FAILED, NodeStatus.BLOCKED})


class RunState:
    """Tracks every node of one run from PENDING to a terminal status.

    The caller hands out work with `ready()` and reports outcomes with the `mark_*` methods;
    each of those returns the automatic transitions it caused downstream, in plan order.
    A node is settled (run, SKIPPED, BLOCKED or CANCELLED) once all of its parents are
    terminal, by `_settle` alone.

    Attributes:
        initial_transitions: Automatic transitions the preset caused (e.g. BLOCKED below a
            carried failure); the executor reports them first.
    """

    def __init__(self, plan: ExecutionPlan, preset: Mapping[str, NodeResult] | None = None) -> None:
        """Start tracking a run; nodes of `preset` start terminal.

        Args:
            plan: The plan of the run.
            preset: Results of nodes already terminal before the run starts (RESTORED, carried
                FAILED, SKIPPED); a condition's chosen branch is read from `output["branch"]`.
        """
        self._plan = plan
        self._status = dict.fromkeys(plan.order, NodeStatus.PENDING)
        self._branch: dict[str, str | None] = {}
        self._handed_out: set[str] = set()
        self._ready: list[tuple[int, str]] = []
        self._cancelling = False
        changes: list[Transition] = []
        if not preset:
            # A fresh run: counted once per plan, so its first node waits for no per-node work here.
            self._waiting = dict(plan.parent_counts)
            self._open = len(plan.order)
            self._propagate(list(plan.roots), changes)
            self.initial_transitions: tuple[Transition, ...] = tuple(changes)
            return
        for node_id, result in preset.items():
            self._status[node_id] = result.status
            output = result.output
            self._branch[node_id] = output.get("branch") if isinstance(output, dict) else None
        self._waiting = {
            node_id: sum(not self._status[parent].is_terminal for parent in plan.parents[node_id])
            for node_id in plan.order
        }
        self._open = sum(not status.is_terminal for status in self._status.values())
        self._propagate(
            [
                (index, node_id)
                for index, node_id in enumerate(plan.order)
                if self._waiting[node_id] == 0 and self._status[node_id] is NodeStatus.PENDING
            ],
            changes,
        )
        self.initial_transitions = tuple(changes)

    # --- queries -----------------------------------------------------------------------------

    def status(self, node_id: str) -> NodeStatus:
        return self._status[node_id]

    def branch(self, node_id: str) -> str | None:
        """The branch a finished condition node chose, else None."""
        return self._branch.get(node_id)

    @property
    def is_finished(self) -> bool:
        """True when every node is terminal."""
        return self._open == 0

    @property
    def is_cancelling(self) -> bool:
        return self._cancelling

    def has_ready(self) -> bool:
        return bool(self._ready)

    def taken_parents(self, node_id: str) -> list[str]:
        """The parents whose edge into `node_id` was taken: their results are the node's input."""
        return [parent for parent in self._plan.parents[node_id] if self._taken(parent, node_id)]

    def failed_node_ids(self) -> list[str]:
        """FAILED nodes, carried failures included, in plan order."""
        return [node_id for node_id in self._plan.order if self._status[node_id] is NodeStatus.FAILED]

    def run_status(self) -> RunStatus:
        """FAILED when any node FAILED or is BLOCKED, else CANCELLED when any was cancelled, else SUCCEEDED.

        Only meaningful once `is_finished`.
        """
        statuses = set(self._status.values())
        if statuses & _UNUSABLE:
            return RunStatus.FAILED
        if NodeStatus.CANCELLED in statuses or self._cancelling:
            return RunStatus.CANCELLED
        return RunStatus.SUCCEEDED

    # --- commands ----------------------------------------------------------------------------

    def ready(self) -> list[str]:
        """Nodes that became runnable since the last call, in plan order; each is handed out once."""
        found = [heapq.heappop(self._ready)[1] for _ in range(len(self._ready))]
        self._handed_out.update(found)
        return found

    def mark_running(self, node_id: str, attempt: int) -> None:
        """Record that an attempt (counted from 1) of a handed-out node started."""
        self._expect(node_id, NodeStatus.PENDING, NodeStatus.RUNNING)
        self._status[node_id] = NodeStatus.RUNNING

    def mark_succeeded(self, node_id: str, branch: str | None = None) -> list[Transition]:
        """Record success; `branch` is the branch a condition node chose."""
        self._branch[node_id] = branch
        return self._finish(node_id, NodeStatus.SUCCEEDED)

    def mark_failed(self, node_id: str) -> list[Transition]:
        return self._finish(node_id, NodeStatus.FAILED)

    def mark_cancelled(self, node_id: str) -> list[Transition]:
        """Record that a handed-out or running node was cancelled; a terminal node is left alone."""
        if self._status[node_id].is_terminal:
            return []
        return self._finish(node_id, NodeStatus.CANCELLED)

    def cancel_all(self) -> list[Transition]:
        """Cancel the run: every node not handed out becomes CANCELLED now, and so will every
        node settled later. Handed-out and running nodes stay for the caller to finish."""
        self._cancelling = True
        self._ready.clear()
        changes: list[Transition] = []
        for node_id in self._plan.order:
            if self._status[node_id] is NodeStatus.PENDING and node_id not in self._handed_out:
                self._status[node_id] = NodeStatus.CANCELLED
                self._open -= 1
                changes.append((node_id, NodeStatus.CANCELLED))
        return changes

    # --- internals ---------------------------------------------------------------------------

    def _finish(self, node_id: str, status: NodeStatus) -> list[Transition]:
        self._expect(node_id, NodeStatus.PENDING, NodeStatus.RUNNING)
        changes: list[Transition] = []
        self._propagate(self._terminate(node_id, status), changes)
        return changes

    def _terminate(self, node_id: str, status: NodeStatus) -> list[tuple[int, str]]:
        """Make `node_id` terminal; return the children that now have every parent terminal."""
        self._status[node_id] = status
        self._open -= 1
        released = []
        for child in self._plan.children[node_id]:
            self._waiting[child] -= 1
            if self._waiting[child] == 0 and self._status[child] is NodeStatus.PENDING:
                released.append((self._plan.position(child), child))
        return released

    def _propagate(self, settle: list[tuple[int, str]], changes: list[Transition]) -> None:
        """Settle nodes in plan order until no automatic transition follows.

        A loop over a heap, not recursion: a failure at the top of a long chain blocks
        thousands of nodes.
        """
        heapq.heapify(settle)
        while settle:
            _, node_id = heapq.heappop(settle)
            status = self._settle(node_id)
            if status is not None:
                changes.append((node_id, status))
                for item in self._terminate(node_id, status):
                    heapq.heappush(settle, item)

    def _settle(self, node_id: str) -> NodeStatus | None:
        """Decide a PENDING node whose parents are all terminal — the one home of the rules.

        Returns the automatic status, or None when the node became ready:
        (1) a parent FAILED or BLOCKED → BLOCKED (CANCELLED once the run is being cancelled);
        (2) a parent CANCELLED, or the run being cancelled → CANCELLED;
        (3) at least one incoming edge taken (or no parents: the start node) → ready;
        (4) otherwise, every path into the node was not taken → SKIPPED.
        """
        parents = self._plan.parents[node_id]
        statuses = {self._status[parent] for parent in parents}
        if statuses & _UNUSABLE:  # case (1)
            return NodeStatus.CANCELLED if self._cancelling else NodeStatus.BLOCKED
        if self._cancelling or NodeStatus.CANCELLED in statuses:  # case (2)
            return NodeStatus.CANCELLED
        if not parents or any(self._taken(parent, node_id) for parent in parents):  # case (3)
            heapq.heappush(self._ready, (self._plan.position(node_id), node_id))
            return None
        return NodeStatus.SKIPPED  # case (4)

    def _taken(self, parent: str, child: str) -> bool:
        return self._status[parent].is_success and self._plan.edge_taken(
            parent, child, self._branch.get(parent)
        )

    def _expect(self, node_id: str, *allowed: NodeStatus) -> None:
        status = self._status[node_id]
        if status not in allowed:
            raise ValueError(
                f"node {node_id!r} is {status.name}, expected {' or '.join(s.name for s in allowed)}"
            )
