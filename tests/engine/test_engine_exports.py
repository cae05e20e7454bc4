"""The engine package exposes exactly its public names."""

from __future__ import annotations

from runner_service import engine


def test_the_public_names_are_pinned() -> None:
    assert sorted(engine.__all__) == [
        "DEFAULT_MAX_CONCURRENCY",
        "DUPLICATE_NODE",
        "ExecutionPlan",
        "Executor",
        "LineageView",
        "MASK",
        "NodeFate",
        "NodeTransition",
        "PlannedNode",
        "Redactor",
        "ResumePlan",
        "ResumeProblem",
        "RunState",
        "START_OR_END_NODE",
        "TOO_MANY_START_NODES",
        "Transition",
        "UNKNOWN_NODE",
        "plan_resume",
    ]
    assert all(hasattr(engine, name) for name in engine.__all__)
