"""The engine package exposes exactly its public names."""

from __future__ import annotations

from runner_service import engine


def test_the_public_names_are_pinned() -> None:
    assert sorted(engine.__all__) == [
        "DEFAULT_MAX_CONCURRENCY",
        "ExecutionPlan",
        "Executor",
        "MASK",
        "NODE_ERROR",
        "NodeTransition",
        "Redactor",
        "RunState",
        "TEMPLATE_ERROR",
        "TIMEOUT",
        "Transition",
        "UNKNOWN_NODE_TYPE",
    ]
    assert all(hasattr(engine, name) for name in engine.__all__)
