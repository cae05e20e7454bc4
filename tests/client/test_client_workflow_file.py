"""Workflow files in YAML or JSON become Workflow messages; malformed ones list every problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resumeflow_client import WorkflowFileError, load_workflow, workflow_from_mapping

YAML = """\
id: checkout
name: Checkout
nodes:
  - {id: start, type: start}
  - id: login
    type: http
    label: Log in
    config:
      url: "https://example.test/login"
      extract: {token: response.body.token}
    retry: {max_attempts: 3, initial_backoff: 0.5, backoff_multiplier: 2, max_backoff: 10}
    timeout: 2.5
  - {id: is_admin, type: condition, config: {expression: vars.admin}}
  - {id: end, type: end}
edges:
  - {source: start, target: login}
  - {source: login, target: is_admin}
  - {source: is_admin, target: end, branch: true}
"""


def test_a_yaml_file_converts_every_field(tmp_path: Path) -> None:
    path = tmp_path / "checkout.yaml"
    path.write_text(YAML)

    workflow = load_workflow(path)

    assert (workflow.id, workflow.name) == ("checkout", "Checkout")
    assert [n.id for n in workflow.nodes] == ["start", "login", "is_admin", "end"]
    login = workflow.nodes[1]
    assert (login.type, login.label) == ("http", "Log in")
    assert login.config["extract"]["token"] == "response.body.token"
    assert login.retry.max_attempts == 3 and login.retry.backoff_multiplier == 2
    assert login.retry.initial_backoff.ToMilliseconds() == 500
    assert login.retry.max_backoff.seconds == 10
    assert login.timeout.ToMilliseconds() == 2500
    assert not workflow.nodes[0].HasField("retry") and not workflow.nodes[0].HasField("timeout")
    assert [(e.source, e.target, e.branch) for e in workflow.edges][-1] == ("is_admin", "end", "true")


def test_a_json_file_reads_the_same_as_yaml(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "w.yaml").write_text(YAML)
    (tmp_path / "w.json").write_text(json.dumps(yaml.safe_load(YAML)))

    assert load_workflow(tmp_path / "w.json") == load_workflow(tmp_path / "w.yaml")


def test_the_name_defaults_to_the_id() -> None:
    workflow = workflow_from_mapping({"id": "w", "nodes": [{"id": "start", "type": "start"}]})

    assert workflow.name == "w" and list(workflow.edges) == []


def test_every_shape_problem_is_reported_at_once() -> None:
    with pytest.raises(WorkflowFileError) as raised:
        workflow_from_mapping(
            {
                "name": 7,
                "colour": "red",
                "nodes": [
                    {"id": "a"},
                    "not a node",
                    {"id": "b", "type": "set", "config": ["x"], "timeout": -1},
                    {"id": "c", "type": "http", "retry": {"max_attempts": "many", "jitter": 1}},
                ],
                "edges": [{"source": "a"}, {"source": "a", "target": "b", "branch": 3}],
            }
        )

    fields = {violation.field for violation in raised.value.violations}
    assert fields == {
        "id",
        "name",
        "colour",
        "nodes[0].type",
        "nodes[1]",
        "nodes[2].config",
        "nodes[2].timeout",
        "nodes[3].retry.max_attempts",
        "nodes[3].retry.jitter",
        "edges[0].target",
        "edges[1].branch",
    }
    assert raised.value.reason == "INVALID_WORKFLOW_FILE"
    assert "11 problems" in raised.value.message


def test_config_values_json_cannot_hold_are_named() -> None:
    import datetime as dt

    with pytest.raises(WorkflowFileError) as raised:
        workflow_from_mapping(
            {
                "id": "w",
                "nodes": [{"id": "s", "type": "start", "config": {"when": dt.date(2024, 1, 1), 1: "x"}}],
            }
        )

    assert {v.field for v in raised.value.violations} == {"nodes[0].config", "nodes[0].config.when"}


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        pytest.param("bad.yaml", "id: [unclosed\n", "line 2", id="yaml-syntax"),
        pytest.param("bad.json", '{"id": }', "line 1, column 8", id="json-syntax"),
        pytest.param("list.yaml", "- a\n- b\n", "expected a mapping", id="not-a-mapping"),
        pytest.param("empty.yaml", "", "expected a mapping", id="empty"),
    ],
)
def test_an_unparsable_file_says_where(tmp_path: Path, name: str, content: str, needle: str) -> None:
    path = tmp_path / name
    path.write_text(content)

    with pytest.raises(WorkflowFileError) as raised:
        load_workflow(path)

    text = raised.value.message + " ".join(str(v) for v in raised.value.violations)
    assert needle in text and str(path) in raised.value.message
    assert raised.value.path == str(path)


def test_a_missing_file_is_a_workflow_file_error(tmp_path: Path) -> None:
    with pytest.raises(WorkflowFileError, match=r"cannot read .*nope\.yaml: No such file"):
        load_workflow(tmp_path / "nope.yaml")
