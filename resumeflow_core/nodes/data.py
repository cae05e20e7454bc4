"""Node types that compute over the run's data: set, assert and condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.schema import ConfigCheck
from resumeflow_core.reasons import ASSERTION_FAILED, INVALID_CONFIG
from resumeflow_core.templates import TemplateError, evaluate


class SetNode(NodeType):
    """Assigns variables: `values` maps names to values or templates, rendered before the node runs.

    The templates all see the variables as they were before the node: `b: "{{ vars.a }}"` does
    not see an `a` set by the same node.
    """

    name = "set"
    inline = True

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = ConfigCheck(config, ["values"])
        check.mapping("values", required=True, names=True)
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        values = call.config.get("values")
        if not isinstance(values, Mapping):
            raise NodeFailure(INVALID_CONFIG, "values must be a mapping")
        return NodeOutcome(output=dict(values), variables=dict(values))


class AssertNode(NodeType):
    """Evaluates each expression of `assertions` in turn; the first falsy one fails the node."""

    name = "assert"
    late_keys = frozenset({"assertions"})
    inline = True

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = ConfigCheck(config, ["assertions"], expression_keys=self.late_keys)
        assertions = check.value("assertions", required=True)
        if assertions is not None and (not isinstance(assertions, list) or not assertions):
            check.add("assertions", "must be a non-empty list of expressions")
        for index, expression in enumerate(assertions if isinstance(assertions, list) else []):
            if not isinstance(expression, str | bool):  # strings get their syntax checked
                check.add(f"assertions[{index}]", "must be an expression")
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        assertions = call.config.get("assertions") or []
        for index, expression in enumerate(assertions):
            if not _evaluate(expression, call, f"assertions[{index}]"):
                raise NodeFailure(ASSERTION_FAILED, f"assertion {index + 1} failed: {expression}")
        return NodeOutcome(output={"passed": len(assertions)})


class ConditionNode(NodeType):
    """Evaluates `expression` and takes the `true` or `false` branch; the other one is SKIPPED."""

    name = "condition"
    late_keys = frozenset({"expression"})
    inline = True

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = ConfigCheck(config, ["expression"], expression_keys=self.late_keys)
        expression = check.value("expression", required=True)
        if expression is not None and not isinstance(expression, str | bool):
            check.add("expression", "must be an expression")
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        value = bool(_evaluate(call.config.get("expression"), call, "expression"))
        branch = "true" if value else "false"
        return NodeOutcome(output={"value": value, "branch": branch}, branch=branch)


def _evaluate(expression: Any, call: NodeCall, key: str) -> Any:
    """Evaluate one expression of the config; a failure names its config key."""
    try:
        return evaluate(expression, call.context)
    except TemplateError as exc:
        exc.path = exc.path or key
        raise
