"""The execution plan: deterministic order, dependencies, branches and descendants."""

from __future__ import annotations

import dataclasses

import pytest
from engine_helpers import BRANCHES, DIAMOND, make_plan, make_workflow

from resumeflow_core.workflow import Edge, Node, Workflow
from runner_service.engine import ExecutionPlan


def test_order_is_topological_with_ties_broken_by_node_id() -> None:
    plan = make_plan(["start>z", "start>m", "start>a", "z>b", "a>end", "m>end", "b>end"])

    assert plan.order == ("start", "a", "m", "z", "b", "end")


def test_order_does_not_depend_on_the_order_nodes_and_edges_are_listed() -> None:
    workflow = make_workflow(DIAMOND)
    shuffled = Workflow("test", nodes=workflow.nodes[::-1], edges=workflow.edges[::-1])

    assert ExecutionPlan.build(shuffled).order == ExecutionPlan.build(workflow).order


def test_parents_and_children_are_listed_in_plan_order() -> None:
    plan = make_plan(["start>b", "start>a", "b>end", "a>end"])

    assert plan.parents["end"] == ("a", "b")
    assert plan.children["start"] == ("a", "b")
    assert plan.parents["start"] == ()
    assert plan.children["end"] == ()


def test_position_is_the_index_in_the_order() -> None:
    plan = make_plan(DIAMOND)

    assert [plan.position(node_id) for node_id in plan.order] == [0, 1, 2, 3]
    assert plan.sort(["end", "start", "b"]) == ["start", "b", "end"]


def test_edge_branches_decide_which_edges_a_condition_takes() -> None:
    plan = make_plan(BRANCHES)

    assert plan.edge_branches[("cond", "yes")] == frozenset({"true"})
    assert plan.edge_taken("cond", "yes", "true")
    assert not plan.edge_taken("cond", "yes", "false")
    assert plan.edge_taken("yes", "after", None)


def test_both_branches_into_one_node_make_it_taken_either_way() -> None:
    plan = make_plan(["start>cond", "cond>x:true", "cond>x:false"])

    assert plan.edge_branches[("cond", "x")] == frozenset({"true", "false"})
    assert plan.parents["x"] == ("cond",)
    assert plan.edge_taken("cond", "x", "false")


def test_descendants_excludes_the_given_nodes_unless_reachable_from_another() -> None:
    plan = make_plan(["start>a", "a>b", "b>c", "start>d", "d>c", "a>d"])

    assert plan.descendants(["a"]) == {"b", "c", "d"}
    assert plan.descendants(["d"]) == {"c"}
    assert plan.descendants(["a", "d"]) == {"b", "c", "d"}
    assert plan.descendants(["c"]) == frozenset()


def test_the_plan_is_immutable() -> None:
    plan = make_plan(DIAMOND)

    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.order = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.parents["a"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        plan.nodes["x"] = Node("x", "noop")  # type: ignore[index]


def test_building_a_cyclic_graph_raises() -> None:
    workflow = Workflow(
        "cyclic",
        nodes=(Node("start", "start"), Node("a", "noop"), Node("b", "noop")),
        edges=(Edge("start", "a"), Edge("a", "b"), Edge("b", "a")),
    )

    with pytest.raises(ValueError, match="cycle"):
        ExecutionPlan.build(workflow)
