"""The run state machine, driven by hand on named graphs."""

from __future__ import annotations

import pytest
from engine_helpers import BRANCHES, DIAMOND, FAN_OUT_JOIN, make_plan

from resumeflow_core.records import NodeResult
from resumeflow_core.status import NodeStatus, RunStatus
from runner_service.engine import RunState

S = NodeStatus


def succeed(state: RunState, node_id: str, branch: str | None = None) -> list[tuple[str, NodeStatus]]:
    state.mark_running(node_id, 1)
    return state.mark_succeeded(node_id, branch)


def fail(state: RunState, node_id: str) -> list[tuple[str, NodeStatus]]:
    state.mark_running(node_id, 1)
    return state.mark_failed(node_id)


def test_the_start_node_is_ready_first_and_handed_out_once() -> None:
    state = RunState(make_plan(DIAMOND))

    assert state.initial_transitions == ()
    assert state.ready() == ["start"]
    assert state.ready() == []


def test_diamond_runs_both_sides_then_the_join() -> None:
    state = RunState(make_plan(DIAMOND))
    state.ready()

    assert succeed(state, "start") == []
    assert state.ready() == ["a", "b"]
    succeed(state, "a")
    assert state.ready() == []  # the join waits for all of its parents
    succeed(state, "b")
    assert state.ready() == ["end"]
    succeed(state, "end")

    assert state.is_finished
    assert state.run_status() is RunStatus.SUCCEEDED
    assert state.failed_node_ids() == []


def test_a_failed_branch_blocks_the_join_only_once_every_parent_is_terminal() -> None:
    state = RunState(make_plan(FAN_OUT_JOIN))
    state.ready()
    succeed(state, "start")
    assert state.ready() == ["a", "b", "c"]

    assert fail(state, "a") == []
    assert succeed(state, "b") == []
    assert succeed(state, "c") == [("join", S.BLOCKED)]

    assert state.is_finished
    assert state.run_status() is RunStatus.FAILED
    assert state.failed_node_ids() == ["a"]


def test_blocked_cascades_down_a_chain_in_plan_order() -> None:
    state = RunState(make_plan(["start>a", "a>b", "b>c", "a>d"]))
    state.ready()
    succeed(state, "start")
    state.ready()

    assert fail(state, "a") == [("b", S.BLOCKED), ("c", S.BLOCKED), ("d", S.BLOCKED)]
    assert state.run_status() is RunStatus.FAILED


def test_a_long_blocked_chain_does_not_recurse() -> None:
    edges = ["start>n0000"] + [f"n{i:04d}>n{i + 1:04d}" for i in range(3000)]
    state = RunState(make_plan(edges))
    state.ready()
    succeed(state, "start")
    state.ready()

    changes = fail(state, "n0000")

    assert len(changes) == 3000 and {status for _, status in changes} == {S.BLOCKED}


@pytest.mark.parametrize(
    ("branch", "runs", "skipped"),
    [
        pytest.param("true", "yes", "no", id="true"),
        pytest.param("false", "no", "yes", id="false"),
    ],
)
def test_a_condition_skips_the_branch_not_taken(branch: str, runs: str, skipped: str) -> None:
    state = RunState(make_plan(BRANCHES))
    state.ready()
    succeed(state, "start")
    state.ready()

    assert succeed(state, "cond", branch) == [(skipped, S.SKIPPED)]
    assert state.ready() == [runs]
    succeed(state, runs)
    assert state.ready() == ["after"]  # one taken path into a join is enough
    succeed(state, "after")
    assert state.run_status() is RunStatus.SUCCEEDED


def test_a_node_whose_every_incoming_path_was_not_taken_is_skipped_and_so_are_its_children() -> None:
    state = RunState(make_plan(["start>cond", "cond>yes:true", "yes>y2", "y2>end", "start>end"]))
    state.ready()
    succeed(state, "start")
    state.ready()

    assert succeed(state, "cond", "false") == [("yes", S.SKIPPED), ("y2", S.SKIPPED)]
    assert state.ready() == ["end"]
    succeed(state, "end")
    assert state.run_status() is RunStatus.SUCCEEDED


def test_preset_restored_nodes_release_their_children_and_carried_failures_block() -> None:
    plan = make_plan(["start>a", "start>b", "a>c", "b>d", "c>end", "d>end"])
    preset = {
        "start": NodeResult("start", S.RESTORED),
        "a": NodeResult("a", S.FAILED),
        "b": NodeResult("b", S.RESTORED),
    }

    state = RunState(plan, preset)

    assert state.initial_transitions == (("c", S.BLOCKED),)
    assert state.ready() == ["d"]
    assert succeed(state, "d") == [("end", S.BLOCKED)]
    assert state.is_finished
    assert state.run_status() is RunStatus.FAILED
    assert state.failed_node_ids() == ["a"]


def test_a_preset_condition_keeps_the_branch_it_chose() -> None:
    preset = {
        "start": NodeResult("start", S.RESTORED),
        "cond": NodeResult("cond", S.RESTORED, output={"value": False, "branch": "false"}),
    }

    state = RunState(make_plan(BRANCHES), preset)

    assert state.initial_transitions == (("yes", S.SKIPPED),)
    assert state.ready() == ["no"]
    assert state.taken_parents("no") == ["cond"]


def test_preset_skipped_parents_make_a_node_skipped() -> None:
    preset = {"start": NodeResult("start", S.RESTORED), "a": NodeResult("a", S.SKIPPED)}

    state = RunState(make_plan(["start>a", "a>b"]), preset)

    assert state.initial_transitions == (("b", S.SKIPPED),)
    assert state.is_finished


def test_cancel_all_cancels_what_has_not_started_and_the_running_node_finishes_as_cancelled() -> None:
    state = RunState(make_plan(["start>a", "a>b", "start>c", "c>d"]))
    state.ready()
    succeed(state, "start")
    assert state.ready() == ["a", "c"]
    state.mark_running("a", 1)

    assert state.cancel_all() == [("b", S.CANCELLED), ("d", S.CANCELLED)]
    assert state.ready() == []
    assert not state.is_finished  # a is running, c is handed out
    assert state.mark_cancelled("a") == []
    assert state.mark_cancelled("c") == []
    assert state.is_finished
    assert state.run_status() is RunStatus.CANCELLED


def test_nodes_settled_while_cancelling_are_cancelled_even_below_a_failure() -> None:
    state = RunState(make_plan(["start>a", "a>b"]))
    state.ready()
    succeed(state, "start")
    state.ready()
    state.mark_running("a", 1)
    state.cancel_all()

    assert state.mark_failed("a") == []  # b was cancelled already
    assert state.status("b") is S.CANCELLED
    assert state.run_status() is RunStatus.FAILED


def test_mark_cancelled_leaves_a_terminal_node_alone() -> None:
    state = RunState(make_plan(["start>a"]))
    state.ready()
    succeed(state, "start")

    assert state.mark_cancelled("start") == []
    assert state.status("start") is S.SUCCEEDED


def test_marking_a_node_twice_is_a_programming_error() -> None:
    state = RunState(make_plan(["start>a"]))
    state.ready()
    succeed(state, "start")

    with pytest.raises(ValueError, match="'start' is SUCCEEDED"):
        state.mark_failed("start")
