"""Checks of the store's arguments and the domain errors its guards raise."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from resumeflow_core.errors import (
    ConflictError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
)
from resumeflow_core.limits import MAX_LEASE_SECONDS
from resumeflow_core.reasons import (
    LEASE_LOST,
    MISSING_PRIOR_RESULT,
    OUT_OF_RANGE,
    RESUME_IN_PROGRESS,
    RUN_FINISHED,
    SEQUENCE_GAP,
)
from resumeflow_core.records import Event, NodeResult, Run
from resumeflow_core.status import EventKind, RunStatus


def new_run_nodes(node_ids: Sequence[str], preset_results: Iterable[NodeResult]) -> dict[str, NodeResult]:
    """The preset results of a new run by node id, once the node ids are known good.

    Raises:
        InvalidArgumentError: Duplicate node ids, or presets of nodes not in `node_ids`.
    """
    presets = {result.node_id: result for result in preset_results}
    counts = Counter(node_ids)
    violations = [
        FieldViolation("node_ids", f"node {node_id!r} is listed {count} times")
        for node_id, count in sorted(counts.items())
        if count > 1
    ]
    violations += [
        FieldViolation("preset_results", f"node {node_id!r} is not in node_ids")
        for node_id in sorted(presets.keys() - counts.keys())
    ]
    if violations:
        raise InvalidArgumentError("invalid nodes for a new run", violations=violations)
    return presets


def event_batch(run_id: str, events: Sequence[Event]) -> None:
    """Check that `events` belong to `run_id` and are numbered consecutively.

    Raises:
        InvalidArgumentError: An event names another run.
        ConflictError: `SEQUENCE_GAP` inside the batch.
    """
    for offset, event in enumerate(events):
        if event.run_id and event.run_id != run_id:
            raise InvalidArgumentError(
                f"event {event.sequence} belongs to run {event.run_id!r}, not {run_id!r}",
                violations=[FieldViolation("events.run_id", "must be the run appended to")],
            )
        expected = events[0].sequence + offset
        if event.sequence != expected:
            raise sequence_gap(run_id, expected, event.sequence)


def finish(run_id: str, status: RunStatus, event: Event) -> None:
    """Check the arguments of `finish_run`.

    Raises:
        InvalidArgumentError: Every problem: a status that is not final, an event that is
            not RUN_FINISHED or names another run.
    """
    violations = []
    if not status.is_terminal:
        violations.append(FieldViolation("status", f"{status.name} is not a final status"))
    if event.kind != EventKind.RUN_FINISHED:
        violations.append(FieldViolation("event.kind", "must be RUN_FINISHED"))
    if event.run_id and event.run_id != run_id:
        violations.append(FieldViolation("event.run_id", "must be the run finished"))
    if violations:
        raise InvalidArgumentError(f"cannot finish run {run_id!r}", violations=violations)


def non_negative(value: int, field: str) -> None:
    """Raises InvalidArgumentError when `value` is negative."""
    if value < 0:
        raise InvalidArgumentError(
            f"{field} must not be negative, got {value}",
            violations=[FieldViolation(field, "must not be negative")],
        )


def lease(seconds: float) -> float:
    """Return a lease length in seconds, once known to be from 0 to MAX_LEASE_SECONDS.

    Raises:
        InvalidArgumentError: It is negative or longer.
    """
    if not 0 <= seconds <= MAX_LEASE_SECONDS:
        raise InvalidArgumentError(
            f"a run lease lasts from 0 to {MAX_LEASE_SECONDS:g} seconds, not {seconds:g}",
            violations=[
                FieldViolation(
                    "lease_duration", f"must be from 0 to {MAX_LEASE_SECONDS:g} seconds", OUT_OF_RANGE
                )
            ],
        )
    return seconds


def unknown_nodes(run_id: str, node_ids: Iterable[str]) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"run {run_id!r} has no node {', '.join(map(repr, sorted(node_ids)))}",
        violations=[
            FieldViolation("node_results.node_id", f"run has no node {node_id!r}")
            for node_id in sorted(node_ids)
        ],
    )


def sequence_gap(run_id: str, expected: int, got: int) -> ConflictError:
    return ConflictError(
        f"event sequence of run {run_id!r} must continue at {expected}, got {got}",
        reason=SEQUENCE_GAP,
        metadata={"run_id": run_id, "expected": str(expected), "got": str(got)},
    )


def run_finished(run_id: str, status: RunStatus) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"run {run_id!r} is {status.name}, no longer RUNNING",
        reason=RUN_FINISHED,
        metadata={"run_id": run_id, "status": status.name},
    )


def lease_lost(run_id: str, runner_id: str) -> ConflictError:
    return ConflictError(
        f"runner {runner_id!r} does not hold the lease of run {run_id!r}",
        reason=LEASE_LOST,
        metadata={"run_id": run_id, "runner_id": runner_id},
    )


def resume_in_progress(active_run_id: str, source_run_id: str) -> ConflictError:
    return ConflictError(
        f"run {active_run_id!r} is already resuming run {source_run_id!r}",
        reason=RESUME_IN_PROGRESS,
        metadata={"active_run_id": active_run_id, "source_run_id": source_run_id},
    )


def missing_copies(source_run_id: str, node_ids: Sequence[str]) -> FailedPreconditionError:
    """Results a resume reuses are gone from its source run: never run on partial context."""
    return FailedPreconditionError(
        f"the results of {', '.join(node_ids)} in run {source_run_id!r}, which the resume reuses, are gone; "
        "start a full run instead",
        reason=MISSING_PRIOR_RESULT,
        metadata={"source_run_id": source_run_id, "node_ids": ",".join(node_ids)},
    )


def copied_nodes(run: Run, node_ids: Sequence[str], copied_node_ids: Sequence[str]) -> None:
    """Copies need a source run and name nodes of the new run, once each.

    Raises:
        InvalidArgumentError: Every problem, as field violations.
    """
    if not copied_node_ids:
        return
    violations = []
    if not run.resume_from_run_id:
        violations.append(FieldViolation("copied_node_ids", "results can only be copied by a resume"))
    unknown = sorted(set(copied_node_ids) - set(node_ids))
    violations += [FieldViolation("copied_node_ids", f"node {n!r} is not in node_ids") for n in unknown]
    if len(set(copied_node_ids)) != len(copied_node_ids):
        violations.append(FieldViolation("copied_node_ids", "a node is listed more than once"))
    if violations:
        raise InvalidArgumentError("invalid copied nodes for a new run", violations=violations)
