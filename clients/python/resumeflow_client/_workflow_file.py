"""Workflow definitions written as YAML or JSON: loading, checking their shape, converting to protobuf.

The file is a mapping::

    id: checkout                 # slug, required
    name: Checkout               # optional, defaults to the id
    nodes:                       # required
      - id: login                # required, unique
        type: http               # required
        label: Log in            # optional
        config: {url: "..."}     # optional mapping, `{{ … }}` templates allowed in strings
        retry: {max_attempts: 3, initial_backoff: 0.5, backoff_multiplier: 2, max_backoff: 10}
        timeout: 30              # seconds, optional
    edges:
      - {source: start, target: login}
      - {source: is_admin, target: admin_only, branch: "true"}

Only the shape is checked here, every problem at once; graph rules (one start node, no cycles, node
configs) are the server's, which also reports every problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from resumeflow.v1 import workflow_pb2
from resumeflow_client._convert import dict_to_struct, seconds_to_duration
from resumeflow_client._errors import FieldViolation, WorkflowFileError

_WORKFLOW_KEYS = frozenset({"id", "name", "nodes", "edges"})
_NODE_KEYS = frozenset({"id", "type", "label", "config", "retry", "timeout"})
_EDGE_KEYS = frozenset({"source", "target", "branch"})
_RETRY_KEYS = frozenset({"max_attempts", "initial_backoff", "backoff_multiplier", "max_backoff"})
_JSON_SUFFIXES = frozenset({".json"})


def load_workflow(path: str | Path) -> workflow_pb2.Workflow:
    """Read a YAML or JSON workflow file and convert it to a `Workflow` message.

    Files ending in `.json` are read as JSON, anything else as YAML (which also reads JSON).

    Args:
        path: The file.

    Returns:
        The workflow, ready for `Client.apply_workflow`.

    Raises:
        WorkflowFileError: The file cannot be read or parsed, or its content is malformed;
            `violations` lists every problem.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowFileError(f"cannot read {file}: {_os_reason(exc)}", path=str(file)) from exc
    try:
        data = json.loads(text) if file.suffix.lower() in _JSON_SUFFIXES else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise WorkflowFileError(
            f"{file} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", path=str(file)
        ) from exc
    except yaml.YAMLError as exc:
        raise WorkflowFileError(f"{file} is not valid YAML: {_yaml_reason(exc)}", path=str(file)) from exc
    try:
        return workflow_from_mapping(data)
    except WorkflowFileError as exc:
        raise WorkflowFileError(f"{file}: {exc.message}", path=str(file), violations=exc.violations) from None


def workflow_from_mapping(data: Any) -> workflow_pb2.Workflow:
    """Convert a parsed workflow definition (see the module docstring) to a `Workflow` message.

    Args:
        data: The parsed YAML/JSON document.

    Returns:
        The workflow message.

    Raises:
        WorkflowFileError: The definition is malformed; `violations` lists every problem.
    """
    problems: list[FieldViolation] = []
    if not isinstance(data, Mapping):
        problems.append(FieldViolation("", f"expected a mapping with id, nodes and edges, got {_kind(data)}"))
        raise _invalid(problems)
    _unknown_keys(data, _WORKFLOW_KEYS, "", problems)
    workflow = workflow_pb2.Workflow(
        id=_string(data, "id", "", problems, required=True),
        name=_string(data, "name", "", problems) or str(data.get("id") or ""),
    )
    for index, node in enumerate(_list(data, "nodes", "", problems, required=True)):
        converted = _node(node, f"nodes[{index}]", problems)
        if converted is not None:
            workflow.nodes.append(converted)
    for index, edge in enumerate(_list(data, "edges", "", problems)):
        converted_edge = _edge(edge, f"edges[{index}]", problems)
        if converted_edge is not None:
            workflow.edges.append(converted_edge)
    if problems:
        raise _invalid(problems)
    return workflow


def _node(data: Any, path: str, problems: list[FieldViolation]) -> workflow_pb2.Node | None:
    if not isinstance(data, Mapping):
        problems.append(FieldViolation(path, f"expected a mapping, got {_kind(data)}"))
        return None
    _unknown_keys(data, _NODE_KEYS, path, problems)
    node = workflow_pb2.Node(
        id=_string(data, "id", path, problems, required=True),
        type=_string(data, "type", path, problems, required=True),
        label=_string(data, "label", path, problems),
    )
    config = data.get("config")
    if config is not None:
        if not isinstance(config, Mapping):
            problems.append(FieldViolation(f"{path}.config", f"expected a mapping, got {_kind(config)}"))
        else:
            before = len(problems)
            _check_json(config, f"{path}.config", problems)
            if len(problems) == before:
                node.config.CopyFrom(dict_to_struct(config))
    retry = data.get("retry")
    if retry is not None:
        _retry(retry, f"{path}.retry", node, problems)
    timeout = _seconds(data, "timeout", path, problems)
    if timeout is not None:
        node.timeout.CopyFrom(seconds_to_duration(timeout))
    return node


def _retry(data: Any, path: str, node: workflow_pb2.Node, problems: list[FieldViolation]) -> None:
    if not isinstance(data, Mapping):
        problems.append(FieldViolation(path, f"expected a mapping, got {_kind(data)}"))
        return
    _unknown_keys(data, _RETRY_KEYS, path, problems)
    retry = node.retry
    retry.SetInParent()
    attempts = data.get("max_attempts")
    if attempts is not None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            problems.append(FieldViolation(f"{path}.max_attempts", "expected a whole number ≥ 0"))
        else:
            retry.max_attempts = attempts
    for key in ("initial_backoff", "max_backoff"):
        seconds = _seconds(data, key, path, problems)
        if seconds is not None:
            getattr(retry, key).CopyFrom(seconds_to_duration(seconds))
    multiplier = data.get("backoff_multiplier")
    if multiplier is not None:
        if not _is_number(multiplier) or multiplier < 0:
            problems.append(FieldViolation(f"{path}.backoff_multiplier", "expected a number ≥ 0"))
        else:
            retry.backoff_multiplier = float(multiplier)


def _edge(data: Any, path: str, problems: list[FieldViolation]) -> workflow_pb2.Edge | None:
    if not isinstance(data, Mapping):
        problems.append(FieldViolation(path, f"expected a mapping with source and target, got {_kind(data)}"))
        return None
    _unknown_keys(data, _EDGE_KEYS, path, problems)
    branch = data.get("branch")
    if isinstance(branch, bool):  # YAML reads an unquoted `branch: true` as a boolean
        branch = "true" if branch else "false"
    if branch is not None and not isinstance(branch, str):
        problems.append(FieldViolation(f"{path}.branch", f"expected 'true' or 'false', got {_kind(branch)}"))
        branch = None
    return workflow_pb2.Edge(
        source=_string(data, "source", path, problems, required=True),
        target=_string(data, "target", path, problems, required=True),
        branch=branch or "",
    )


def _string(
    data: Mapping[str, Any], key: str, path: str, problems: list[FieldViolation], *, required: bool = False
) -> str:
    value = data.get(key)
    field = _join(path, key)
    if value is None or value == "":
        if required:
            problems.append(FieldViolation(field, "is required"))
        return ""
    if not isinstance(value, str):
        problems.append(FieldViolation(field, f"expected a string, got {_kind(value)}"))
        return ""
    return value


def _list(
    data: Mapping[str, Any], key: str, path: str, problems: list[FieldViolation], *, required: bool = False
) -> list[Any]:
    value = data.get(key)
    if value is None:
        if required:
            problems.append(FieldViolation(_join(path, key), "is required"))
        return []
    if not isinstance(value, list):
        problems.append(FieldViolation(_join(path, key), f"expected a list, got {_kind(value)}"))
        return []
    return value


def _seconds(data: Mapping[str, Any], key: str, path: str, problems: list[FieldViolation]) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value) or value < 0 or math.isinf(value):
        problems.append(FieldViolation(_join(path, key), "expected a number of seconds ≥ 0"))
        return None
    return float(value)


def _unknown_keys(
    data: Mapping[str, Any], known: frozenset[str], path: str, problems: list[FieldViolation]
) -> None:
    for key in data:
        if key not in known:
            expected = ", ".join(sorted(known))
            problems.append(
                FieldViolation(_join(path, str(key)), f"unknown field (expected one of: {expected})")
            )


def _check_json(value: Any, path: str, problems: list[FieldViolation]) -> None:
    """Report values a Struct cannot hold, such as YAML dates or non-string keys."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(FieldViolation(path, f"keys must be strings, got {_kind(key)} {key!r}"))
            else:
                _check_json(item, f"{path}.{key}", problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", problems)
    elif value is not None and not isinstance(value, str | bool | int | float):
        problems.append(FieldViolation(path, f"{_kind(value)} is not a JSON value; quote it"))
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(FieldViolation(path, "must be a finite number"))


def _invalid(problems: list[FieldViolation]) -> WorkflowFileError:
    count = len(problems)
    return WorkflowFileError(
        f"malformed workflow: {count} problem{'s' if count > 1 else ''}", violations=problems
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return "a number" if _is_number(value) else type(value).__name__


def _os_reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or str(exc)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)
