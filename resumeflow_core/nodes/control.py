"""Control-flow node types that do no work of their own: start, end, noop and delay."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from resumeflow_core.nodes.base import NodeCall, NodeOutcome, NodeType
from resumeflow_core.nodes.schema import ConfigCheck, number_setting


class _Marker(NodeType):
    """A node that only marks a place in the graph: no config, output None."""

    inline = True

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        return ConfigCheck(config).problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        return NodeOutcome()


class StartNode(_Marker):
    """The single entry of every workflow."""

    name = "start"


class EndNode(_Marker):
    """An explicit end of a path; optional."""

    name = "end"


class NoopNode(_Marker):
    """Does nothing; useful as a join point."""

    name = "noop"


class DelayNode(NodeType):
    """Waits `seconds` (a number ≥ 0 or a template); output `{"seconds": s}`."""

    name = "delay"

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        check = ConfigCheck(config, ["seconds"])
        check.number("seconds", minimum=0, required=True)
        return check.problems

    async def execute(self, call: NodeCall) -> NodeOutcome:
        seconds = number_setting(call.config, "seconds", 0.0)
        await asyncio.sleep(seconds)
        return NodeOutcome(output={"seconds": seconds})
