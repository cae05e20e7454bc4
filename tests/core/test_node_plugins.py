"""Node types published under the `resumeflow.nodes` entry-point group join the registry."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from resumeflow_core.nodes import NodeCall, NodeOutcome, NodeType
from resumeflow_core.nodes import registry as registry_module


class Echo(NodeType):
    """A plugin node type: outputs its config."""

    name = "echo"

    async def execute(self, call: NodeCall) -> NodeOutcome:
        return NodeOutcome(output=dict(call.config))


def _plugins(*entries: tuple[str, str]) -> list[EntryPoint]:
    return [EntryPoint(name, value, registry_module.ENTRY_POINT_GROUP) for name, value in entries]


def test_an_installed_plugin_is_registered_beside_the_built_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "entry_points", lambda group: _plugins(("echo", f"{__name__}:Echo")))

    registry = registry_module.default_registry()

    assert isinstance(registry.get("echo"), Echo)
    assert registry.get("http") is not None


def test_a_broken_plugin_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = ("broken", "no_such_module_anywhere:Thing")
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: _plugins(broken, ("echo", f"{__name__}:Echo"))
    )

    registry = registry_module.default_registry()

    assert registry.get("broken") is None and registry.get("echo") is not None
    assert "broken" in caplog.text
