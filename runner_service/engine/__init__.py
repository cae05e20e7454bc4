"""The execution engine: a plan, a state machine and an executor; no gRPC and no database."""

from runner_service.engine.executor import (
    DEFAULT_MAX_CONCURRENCY,
    NODE_ERROR,
    TEMPLATE_ERROR,
    TIMEOUT,
    UNKNOWN_NODE_TYPE,
    Executor,
    NodeTransition,
)
from runner_service.engine.plan import ExecutionPlan
from runner_service.engine.redaction import MASK, Redactor
from runner_service.engine.state import RunState, Transition

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "MASK",
    "NODE_ERROR",
    "TEMPLATE_ERROR",
    "TIMEOUT",
    "UNKNOWN_NODE_TYPE",
    "ExecutionPlan",
    "Executor",
    "NodeTransition",
    "Redactor",
    "RunState",
    "Transition",
]
