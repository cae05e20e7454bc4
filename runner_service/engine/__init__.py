"""The execution engine: a plan, a state machine and an executor; no gRPC and no database.

The reasons and node error codes it sets live in `resumeflow_core.reasons`.
"""

from runner_service.engine.executor import (
    DEFAULT_MAX_CONCURRENCY,
    Executor,
    NodeTransition,
)
from runner_service.engine.plan import ExecutionPlan
from runner_service.engine.redaction import MASK, Redactor
from runner_service.engine.resume_plan import (
    DUPLICATE_NODE,
    START_OR_END_NODE,
    TOO_MANY_START_NODES,
    UNKNOWN_NODE,
    LineageView,
    NodeFate,
    PlannedNode,
    ResumePlan,
    ResumeProblem,
    plan_resume,
)
from runner_service.engine.state import RunState, Transition

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DUPLICATE_NODE",
    "MASK",
    "START_OR_END_NODE",
    "TOO_MANY_START_NODES",
    "UNKNOWN_NODE",
    "ExecutionPlan",
    "Executor",
    "LineageView",
    "NodeFate",
    "NodeTransition",
    "PlannedNode",
    "Redactor",
    "ResumePlan",
    "ResumeProblem",
    "RunState",
    "Transition",
    "plan_resume",
]
