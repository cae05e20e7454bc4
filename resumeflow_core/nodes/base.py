"""The contract every node type implements, built-in or registered through `resumeflow.nodes`."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from resumeflow_core.nodes.http_settings import HttpSettings

if TYPE_CHECKING:
    import httpx

    from resumeflow_core.templates import TemplateContext
    from resumeflow_core.workflow import Node


class NodeFailure(Exception):
    """An expected failure of one node attempt; the executor records it as a FAILED result.

    Attributes:
        code: A machine-readable code such as `HTTP_STATUS` or `ASSERTION_FAILED`.
        message: A human-readable sentence.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class NodeOutcome:
    """What a successful attempt produced."""

    output: Any = None
    """The node's result, visible downstream as `nodes.<id>` and `prev`."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Variables the node writes into `vars`."""
    branch: str | None = None
    """For condition nodes: `"true"` or `"false"`, the branch taken."""


@dataclass
class NodeCall:
    """Everything one attempt of a node may use."""

    node: Node
    config: dict[str, Any]
    """The node's config with templates rendered, except the type's `late_keys`."""
    attempt: int
    """The attempt number, counted from 1."""
    context: TemplateContext
    """The template scope (`vars`, `env`, `secrets`, `nodes`, `prev`, `run`) for late keys."""
    http: httpx.AsyncClient
    """A client shared by every node of the runner; its connections pass the destination policy."""
    http_settings: HttpSettings = field(default_factory=HttpSettings)
    """The runner's http settings: the response cap and the destination policy."""


class NodeType(abc.ABC):
    """A kind of node: validates its config when a workflow is stored and executes attempts."""

    name: ClassVar[str]
    """The value of `Node.type` this class handles."""
    late_keys: ClassVar[frozenset[str]] = frozenset()
    """Config keys the node evaluates itself (e.g. expressions that see the response)."""
    inline: ClassVar[bool] = False
    """True when `execute` never awaits anything: the executor then runs the node in its own
    loop, without a task or a concurrency slot (start, end, set, condition...)."""

    def validate_config(self, config: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Return every problem of `config` as (key path inside config, description)."""
        return []

    @abc.abstractmethod
    async def execute(self, call: NodeCall) -> NodeOutcome:
        """Run one attempt; raise NodeFailure for an expected failure."""
