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
        "MISSING_PRIOR_RESULT",
        "MISSING_SECRET",
        "NODE_ERROR",
        "NodeFate",
        "NodeTransition",
        "OUTPUT_TOO_LARGE",
        "PlannedNode",
        "RUNNER_SHUTDOWN",
        "Redactor",
        "ResumePlan",
        "ResumeProblem",
        "RunState",
        "SOURCE_NOT_FAILED",
        "SOURCE_OTHER_WORKFLOW",
        "START_OR_END_NODE",
        "TEMPLATE_ERROR",
        "TEMPLATE_LIMIT",
        "TIMEOUT",
        "TOO_MANY_START_NODES",
        "Transition",
        "UNKNOWN_NODE",
        "UNKNOWN_NODE_TYPE",
        "WORKFLOW_DRIFT",
        "plan_resume",
    ]
    assert all(hasattr(engine, name) for name in engine.__all__)
