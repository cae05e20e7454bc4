"""Workflow validation reports every problem of a definition at once."""

from __future__ import annotations

import pytest

from resumeflow_core.errors import FieldViolation, InvalidWorkflowError
from resumeflow_core.nodes.registry import NodeTypeRegistry, default_registry
from resumeflow_core.validation import validate_workflow
from resumeflow_core.workflow import Edge, Node, RetryPolicy, Workflow


@pytest.fixture(scope="module")
def registry() -> NodeTypeRegistry:
    return default_registry()


def violations(workflow: Workflow, registry: NodeTypeRegistry) -> list[FieldViolation]:
    with pytest.raises(InvalidWorkflowError) as caught:
        validate_workflow(workflow, registry)
    return caught.value.violations


def reasons(workflow: Workflow, registry: NodeTypeRegistry) -> list[str]:
    return [violation.reason for violation in violations(workflow, registry)]


def workflow(nodes: list[Node], edges: list[tuple[str, ...]], workflow_id: str = "orders") -> Workflow:
    return Workflow(workflow_id, nodes=tuple(nodes), edges=tuple(Edge(*edge) for edge in edges))


VALID = workflow(
    [
        Node("start", "start"),
        Node(
            "login",
            "http",
            config={
                "url": "{{ env.base }}/login",
                "extract": {"token": "response.body.token"},
            },
        ),
        Node("check", "condition", config={"expression": "vars.token is defined"}),
        Node("yes", "set", config={"values": {"ok": True}}),
        Node("no", "noop"),
        Node("end", "end"),
    ],
    [
        ("start", "login"),
        ("login", "check"),
        ("check", "yes", "true"),
        ("check", "no", "false"),
        ("yes", "end"),
        ("no", "end"),
    ],
)


def test_a_valid_workflow_passes(registry: NodeTypeRegistry) -> None:
    validate_workflow(VALID, registry)


def test_every_problem_is_listed_at_once(registry: NodeTypeRegistry) -> None:
    broken = workflow(
        [
            Node("start", "start"),
            Node("a", "noop"),
            Node("a", "noop"),  # duplicate id
            Node("b", "teleport"),  # unknown type
            Node("c", "set", config={"values": "nope"}),  # bad config
            Node("d", "noop"),  # in a cycle with e
            Node("e", "noop"),
            Node("lonely", "noop"),  # unreachable
        ],
        [
            ("start", "a"),
            ("a", "b"),
            ("b", "c"),
            ("a", "ghost"),
            ("c", "d"),
            ("d", "e"),
            ("e", "d"),
        ],
    )

    found = violations(broken, registry)

    assert [v.reason for v in found] == [
        "DUPLICATE_NODE_ID",
        "UNKNOWN_NODE_TYPE",
        "INVALID_NODE_CONFIG",
        "UNKNOWN_EDGE_NODE",
        "CYCLE",
        "UNREACHABLE_NODE",
    ]
    assert [v.field for v in found] == [
        "workflow.nodes[2].id",
        "workflow.nodes[3].type",
        "workflow.nodes[4].config.values",
        "workflow.edges[3].target",
        "workflow.edges",
        "workflow.nodes[7]",
    ]
    assert "d -> e -> d" in found[4].description
    assert "'lonely'" in found[5].description


def test_the_error_summarises_the_count_and_names_the_workflow(
    registry: NodeTypeRegistry,
) -> None:
    broken = workflow([Node("start", "start"), Node("x", "nope")], [("start", "x"), ("x", "y")])

    with pytest.raises(InvalidWorkflowError) as caught:
        validate_workflow(broken, registry)

    assert caught.value.message == "workflow 'orders' is invalid: 2 problems"
    assert caught.value.metadata == {"workflow_id": "orders"}
    assert caught.value.reason == "INVALID_WORKFLOW"


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        pytest.param(
            [Node("start", "start"), Node("s2", "start")],
            [("start", "s2")],
            ["START_NODE_COUNT", "EDGE_INTO_START"],
            id="two-starts",
        ),
        pytest.param(
            [Node("start", "start"), Node("s2", "start"), Node("a", "noop"), Node("lost", "noop")],
            [("s2", "a")],
            ["START_NODE_COUNT", "UNREACHABLE_NODE"],
            id="two-starts-and-a-node-neither-reaches",
        ),
        pytest.param([Node("a", "noop")], [], ["START_NODE_COUNT"], id="no-start"),
        pytest.param([], [], ["NO_NODES"], id="no-nodes"),
        pytest.param(
            [Node("start", "start"), Node("", "noop")],
            [],
            ["EMPTY_NODE_ID", "UNREACHABLE_NODE"],
            id="empty-id",
        ),
        pytest.param(
            [Node("start", "start"), Node("a", "noop")],
            [("start", "a"), ("a", "a")],
            ["SELF_LOOP"],
            id="self-loop",
        ),
        pytest.param(
            [Node("start", "start"), Node("a", "noop")],
            [("start", "a"), ("start", "a")],
            ["DUPLICATE_EDGE"],
            id="duplicate-edge",
        ),
        pytest.param(
            [Node("start", "start"), Node("a", "noop")],
            [("start", "a", "true")],
            ["INVALID_BRANCH"],
            id="branch-out-of-a-non-condition",
        ),
        pytest.param(
            [
                Node("start", "start"),
                Node("c", "condition", config={"expression": "true"}),
                Node("a", "noop"),
            ],
            [("start", "c"), ("c", "a", "maybe")],
            ["INVALID_BRANCH"],
            id="unknown-branch",
        ),
        pytest.param(
            [
                Node("start", "start"),
                Node("c", "condition", config={"expression": "true"}),
                Node("a", "noop"),
            ],
            [("start", "c"), ("c", "a")],
            ["MISSING_BRANCH"],
            id="condition-edge-without-branch",
        ),
        pytest.param(
            [
                Node("start", "start"),
                Node("a", "noop", retry=RetryPolicy(max_attempts=-1), timeout=0),
            ],
            [("start", "a")],
            ["INVALID_RETRY", "INVALID_TIMEOUT"],
            id="retry-and-timeout",
        ),
    ],
)
def test_each_kind_of_problem_has_its_reason(
    registry: NodeTypeRegistry,
    nodes: list[Node],
    edges: list[tuple[str, ...]],
    expected: list[str],
) -> None:
    assert reasons(workflow(nodes, edges), registry) == expected


def test_a_cycle_is_reported_alongside_other_problems(
    registry: NodeTypeRegistry,
) -> None:
    broken = workflow(
        [
            Node("start", "start"),
            Node("a", "noop"),
            Node("b", "delay", config={"seconds": -1}),
        ],
        [("start", "a"), ("a", "b"), ("b", "a")],
    )

    assert reasons(broken, registry) == ["INVALID_NODE_CONFIG", "CYCLE"]


def test_an_invalid_workflow_id_is_reported(registry: NodeTypeRegistry) -> None:
    renamed = Workflow("Not A Slug", nodes=VALID.nodes, edges=VALID.edges)

    assert reasons(renamed, registry) == ["INVALID_ID"]


def test_every_config_problem_of_a_node_becomes_a_field_violation(
    registry: NodeTypeRegistry,
) -> None:
    broken = workflow(
        [
            Node("start", "start"),
            Node("call", "http", config={"method": "FETCH", "timeout": -1, "url": "{{ x"}),
        ],
        [("start", "call")],
    )

    fields = [v.field for v in violations(broken, registry)]

    assert fields == [
        "workflow.nodes[1].config.url",
        "workflow.nodes[1].config.method",
        "workflow.nodes[1].config.timeout",
    ]
