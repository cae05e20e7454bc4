"""The execution engine: a plan, a state machine and an executor; no gRPC and no database."""

from runner_service.engine.executor import (
    DEFAULT_MAX_CONCURRENCY,
    NODE_ERROR,
    TEMPLATE_ERROR,
    TEMPLATE_LIMIT,
    TIMEOUT,
    UNKNOWN_NODE_TYPE,
    Executor,
    NodeTransition,
)
from runner_service.engine.plan import ExecutionPlan
from runner_service.engine.redaction import MASK, Redactor
from runner_service.engine.resume import (
    DUPLICATE_NODE,
    MISSING_PRIOR_RESULT,
    MISSING_SECRET,
    SOURCE_NOT_FAILED,
    SOURCE_OTHER_WORKFLOW,
    START_OR_END_NODE,
    TOO_MANY_START_NODES,
    UNKNOWN_NODE,
    WORKFLOW_DRIFT,
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
    "MISSING_PRIOR_RESULT",
    "MISSING_SECRET",
    "NODE_ERROR",
    "SOURCE_NOT_FAILED",
    "SOURCE_OTHER_WORKFLOW",
    "START_OR_END_NODE",
    "TEMPLATE_ERROR",
    "TEMPLATE_LIMIT",
    "TIMEOUT",
    "TOO_MANY_START_NODES",
    "UNKNOWN_NODE",
    "UNKNOWN_NODE_TYPE",
    "WORKFLOW_DRIFT",
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
