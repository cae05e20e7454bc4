"""The resume planner on named lineages: fates, presets, variables, violations and problems."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from engine_helpers import make_plan

from resumeflow_core.reasons import (
    MISSING_PRIOR_RESULT,
    MISSING_SECRET,
    SOURCE_NOT_FAILED,
    SOURCE_OTHER_WORKFLOW,
    WORKFLOW_DRIFT,
)
from resumeflow_core.records import NodeError, NodeResult, Run
from resumeflow_core.status import NodeStatus, ResumeMode, RunStatus
from resumeflow_core.workflow import Node
from runner_service.engine import (
    DUPLICATE_NODE,
    START_OR_END_NODE,
    TOO_MANY_START_NODES,
    UNKNOWN_NODE,
    ExecutionPlan,
    LineageView,
    NodeFate,
    ResumePlan,
    plan_resume,
)

S = NodeStatus
F = NodeFate
SINGLE = ResumeMode.SINGLE
ALL_FAILED = ResumeMode.ALL_FAILED

LINEAR = ["start>a", "a>b", "b>c"]
NB3_NB4 = ["start>nb3", "start>nb4", "nb3>join", "nb4>join", "join>end"]
"""Two parallel nodes that both fail, joined downstream (the product note's scenario)."""


def result(
    node_id: str,
    status: NodeStatus,
    run_id: str,
    sequence: int = 0,
    *,
    variables: Mapping[str, Any] | None = None,
    definition_hash: str = "",
) -> NodeResult:
    """An effective result as the lineage reports it: produced by `run_id`."""
    failed = status is S.FAILED
    return NodeResult(
        node_id=node_id,
        status=status,
        attempts=1 if status in (S.SUCCEEDED, S.FAILED) else 0,
        output={"from": node_id} if status.is_success else None,
        variables=dict(variables or {}),
        error=NodeError("BOOM", f"{node_id} broke") if failed else None,
        source_run_id=run_id,
        finish_sequence=sequence,
        definition_hash=definition_hash,
    )


def run(
    run_id: str,
    status: RunStatus = RunStatus.FAILED,
    *,
    depth: int = 0,
    inputs: Mapping[str, Any] | None = None,
    workflow_id: str = "test",
) -> Run:
    return Run(
        id=run_id, workflow_id=workflow_id, status=status, lineage_depth=depth, inputs=dict(inputs or {})
    )


def lineage(
    runs: Sequence[Run], results: Iterable[NodeResult], source_node_ids: Iterable[str] | None = None
) -> LineageView:
    """A lineage whose source is `runs[0]`; the source version's nodes default to the results' nodes."""
    by_id = {r.node_id: r for r in results}
    return LineageView(
        source=runs[0],
        runs=tuple(runs),
        results=by_id,
        source_node_ids=frozenset(by_id if source_node_ids is None else source_node_ids),
    )


def fates(plan: ResumePlan) -> dict[str, NodeFate]:
    return {planned.node_id: planned.fate for planned in plan.nodes}


def reasons(plan: ResumePlan) -> dict[str, str]:
    return {planned.node_id: planned.reason for planned in plan.nodes}


def nb3_nb4_first_run() -> tuple[ExecutionPlan, LineageView]:
    """Both parallel nodes failed in run r1, so the join and the end were blocked."""
    plan = make_plan(NB3_NB4)
    view = lineage(
        [run("r1", inputs={"seed": 1})],
        [
            result("start", S.SUCCEEDED, "r1", 2),
            result("nb3", S.FAILED, "r1", 5),
            result("nb4", S.FAILED, "r1", 6),
            result("join", S.BLOCKED, "r1", 7),
            result("end", S.BLOCKED, "r1", 8),
        ],
    )
    return plan, view


# --- named graphs --------------------------------------------------------------------------------


def test_linear_single_restores_upstream_and_reruns_the_failed_node_and_below() -> None:
    plan = make_plan(LINEAR)
    hash_a = plan.nodes["a"].definition_hash()
    view = lineage(
        [run("r1", inputs={"seed": 7})],
        [
            result("start", S.SUCCEEDED, "r1", 2),
            result("a", S.SUCCEEDED, "r1", 4, variables={"token": "t"}, definition_hash=hash_a),
            result("b", S.FAILED, "r1", 6),
            result("c", S.BLOCKED, "r1", 7),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE)

    assert resume.accepted
    assert resume.start_node_ids == ("b",)
    assert [(p.node_id, p.fate, p.source_run_id) for p in resume.nodes] == [
        ("start", F.RESTORED, "r1"),
        ("a", F.RESTORED, "r1"),
        ("b", F.RERUN, ""),
        ("c", F.RERUN, ""),
    ]
    assert reasons(resume) == {
        "start": "restored from run r1",
        "a": "restored from run r1",
        "b": "start node of the resume",
        "c": "downstream of b",
    }
    assert resume.restored_node_ids == ("start", "a")
    restored_a = resume.preset["a"]
    assert (restored_a.status, restored_a.source_run_id) == (S.RESTORED, "r1")
    assert (restored_a.output, restored_a.variables) == ({"from": "a"}, {"token": "t"})
    assert (restored_a.finish_sequence, restored_a.definition_hash) == (4, hash_a)
    assert set(resume.preset) == {"start", "a"}
    assert resume.initial_variables == {"seed": 7, "token": "t"}


def test_nb3_nb4_all_failed_reruns_both_branches_and_the_join() -> None:
    plan, view = nb3_nb4_first_run()

    resume = plan_resume(plan, view, mode=ALL_FAILED)

    assert resume.accepted
    assert resume.start_node_ids == ("nb3", "nb4")
    assert fates(resume) == {
        "start": F.RESTORED,
        "nb3": F.RERUN,
        "nb4": F.RERUN,
        "join": F.RERUN,
        "end": F.RERUN,
    }
    assert reasons(resume)["join"] == "downstream of nb3"
    assert reasons(resume)["end"] == "downstream of nb3"
    assert list(resume.preset) == ["start"]


def test_nb3_nb4_single_carries_the_other_failure_and_blocks_the_join() -> None:
    plan, view = nb3_nb4_first_run()

    resume = plan_resume(plan, view, mode=SINGLE)

    assert resume.accepted
    assert resume.start_node_ids == ("nb3",)
    assert [(p.node_id, p.fate, p.source_run_id) for p in resume.nodes] == [
        ("start", F.RESTORED, "r1"),
        ("nb3", F.RERUN, ""),
        ("nb4", F.CARRIED_FAILURE, "r1"),
        ("join", F.BLOCKED, ""),
        ("end", F.BLOCKED, ""),
    ]
    assert reasons(resume)["nb4"] == "failed in run r1 and not selected"
    assert reasons(resume)["join"] == "blocked by carried failure nb4"
    carried = resume.preset["nb4"]
    assert (carried.status, carried.source_run_id, carried.error) == (
        S.FAILED,
        "r1",
        NodeError("BOOM", "nb4 broke"),
    )
    assert set(resume.preset) == {"start", "nb4"}
    assert resume.restored_node_ids == ("start",)


def test_nb3_nb4_the_next_single_resume_picks_nb4_and_restores_nb3_from_the_intermediate_run() -> None:
    plan = make_plan(NB3_NB4)
    intermediate = lineage(
        [run("r2", depth=1), run("r1", inputs={"seed": 1})],
        [
            result("start", S.RESTORED, "r1", 2, variables={"s": 1}),
            result("nb3", S.SUCCEEDED, "r2", 3, variables={"three": 3}),
            result("nb4", S.FAILED, "r1", 6),
            result("join", S.BLOCKED, "r2", 4),
            result("end", S.BLOCKED, "r2", 5),
        ],
    )

    resume = plan_resume(plan, intermediate, mode=SINGLE)

    assert resume.accepted
    assert resume.source_run_id == "r2"
    assert resume.start_node_ids == ("nb4",)
    assert [(p.node_id, p.fate, p.source_run_id) for p in resume.nodes] == [
        ("start", F.RESTORED, "r1"),
        ("nb3", F.RESTORED, "r2"),
        ("nb4", F.RERUN, ""),
        ("join", F.RERUN, ""),
        ("end", F.RERUN, ""),
    ]
    assert reasons(resume)["nb3"] == "restored from run r2"
    assert resume.preset["nb3"].source_run_id == "r2"
    assert resume.initial_variables == {"seed": 1, "s": 1, "three": 3}


def test_a_cancelled_source_reruns_its_unfinished_nodes_as_never_ran() -> None:
    plan = make_plan(["start>a", "a>b", "start>c", "b>end", "c>end"])
    view = lineage(
        [run("r1", RunStatus.CANCELLED)],
        [
            result("start", S.SUCCEEDED, "r1", 2),
            result("a", S.SUCCEEDED, "r1", 4),
            result("b", S.CANCELLED, "r1", 6),
            result("c", S.RUNNING, "r1", 5),
            result("end", S.PENDING, "r1"),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE)

    assert resume.accepted
    assert resume.start_node_ids == ()
    assert fates(resume) == {"start": F.RESTORED, "a": F.RESTORED, "b": F.RERUN, "c": F.RERUN, "end": F.RERUN}
    assert reasons(resume)["b"] == "never ran in the lineage (CANCELLED in run r1)"
    assert reasons(resume)["c"] == "never ran in the lineage (RUNNING in run r1)"


def test_a_node_new_in_this_version_runs_and_so_does_everything_below_it() -> None:
    plan = make_plan(["start>a", "a>fresh", "fresh>b", "a>c"])
    view = lineage(
        [run("r1")],
        [
            result("start", S.SUCCEEDED, "r1", 2),
            result("a", S.SUCCEEDED, "r1", 3),
            result("b", S.SUCCEEDED, "r1", 4),
            result("c", S.FAILED, "r1", 5),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE)

    assert resume.accepted
    assert fates(resume) == {
        "start": F.RESTORED,
        "a": F.RESTORED,
        "fresh": F.RERUN,
        "b": F.RERUN,
        "c": F.RERUN,
    }
    assert reasons(resume)["fresh"] == "new in this workflow version: never ran in the lineage"
    assert reasons(resume)["b"] == "downstream of fresh"


def test_a_failed_node_gone_from_the_workflow_is_ignored() -> None:
    plan = make_plan(["start>a", "a>b"])
    view = lineage(
        [run("r1")],
        [
            result("start", S.SUCCEEDED, "r1", 1),
            result("deleted", S.FAILED, "r1", 2),
            result("a", S.SUCCEEDED, "r1", 3),
            result("b", S.FAILED, "r1", 4),
        ],
    )

    resume = plan_resume(plan, view, mode=ALL_FAILED)

    assert resume.accepted
    assert resume.start_node_ids == ("b",)
    assert [p.node_id for p in resume.nodes] == ["start", "a", "b"]


def test_explicit_start_nodes_are_used_in_both_modes() -> None:
    plan, view = nb3_nb4_first_run()

    single = plan_resume(plan, view, mode=SINGLE, start_node_ids=["nb4"])
    both = plan_resume(plan, view, mode=ALL_FAILED, start_node_ids=["nb4"])

    assert single.start_node_ids == both.start_node_ids == ("nb4",)
    assert fates(single)["nb3"] is F.CARRIED_FAILURE
    assert fates(both)["nb3"] is F.CARRIED_FAILURE
    assert fates(both)["nb4"] is F.RERUN


def test_an_unspecified_mode_plans_as_single() -> None:
    plan, view = nb3_nb4_first_run()

    resume = plan_resume(plan, view, mode=ResumeMode.UNSPECIFIED)

    assert resume.mode is SINGLE
    assert resume.start_node_ids == ("nb3",)


def test_a_skipped_branch_stays_skipped_and_the_chosen_condition_is_restored() -> None:
    plan = make_plan(["start>cond", "cond>yes:true", "cond>no:false", "yes>after", "no>after"])
    view = lineage(
        [run("r1")],
        [
            result("start", S.SUCCEEDED, "r1", 1),
            result("cond", S.SUCCEEDED, "r1", 2),
            result("yes", S.SUCCEEDED, "r1", 3),
            result("no", S.SKIPPED, "r1", 4),
            result("after", S.FAILED, "r1", 5),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE)

    assert fates(resume) == {
        "start": F.RESTORED,
        "cond": F.RESTORED,
        "yes": F.RESTORED,
        "no": F.SKIPPED,
        "after": F.RERUN,
    }
    assert resume.preset["no"].status is S.SKIPPED
    assert resume.restored_node_ids == ("start", "cond", "yes")


# --- validation ----------------------------------------------------------------------------------


def test_every_violation_and_problem_is_reported_at_once() -> None:
    plan = make_plan(
        ["start>r", "start>m", "start>g", "start>a", "a>end"],
        [Node("a", "set", config={"values": {"auth": "Bearer {{ secrets.token }}"}}), Node("end", "end")],
    )
    view = lineage(
        [run("r1", RunStatus.SUCCEEDED, workflow_id="other")],
        [
            result("start", S.SUCCEEDED, "r1", 1),
            result("r", S.SUCCEEDED, "r1", 2, definition_hash="stale"),
            result("g", S.SUCCEEDED, "r0-gone", 3),
            result("a", S.FAILED, "r1", 4),
            result("end", S.BLOCKED, "r1", 5),
        ],
        source_node_ids=["start", "r", "m", "g", "a", "end"],
    )

    resume = plan_resume(plan, view, mode=SINGLE, start_node_ids=["nope", "start", "a", "a", "end"])

    assert [(v.field, v.reason) for v in resume.violations] == [
        ("resume.start_node_ids[0]", UNKNOWN_NODE),
        ("resume.start_node_ids[1]", START_OR_END_NODE),
        ("resume.start_node_ids[3]", DUPLICATE_NODE),
        ("resume.start_node_ids[4]", START_OR_END_NODE),
        ("resume.start_node_ids", TOO_MANY_START_NODES),
    ]
    assert all(v.description for v in resume.violations)
    by_reason = {p.reason: p for p in resume.problems}
    assert set(by_reason) == {
        SOURCE_OTHER_WORKFLOW,
        SOURCE_NOT_FAILED,
        MISSING_PRIOR_RESULT,
        MISSING_SECRET,
        WORKFLOW_DRIFT,
    }
    assert by_reason[SOURCE_NOT_FAILED].metadata["status"] == "SUCCEEDED"
    assert by_reason[MISSING_PRIOR_RESULT].metadata["node_ids"] == "g,m"
    assert "full run" in by_reason[MISSING_PRIOR_RESULT].message
    assert by_reason[MISSING_SECRET].metadata["missing_secrets"] == "token"
    assert by_reason[WORKFLOW_DRIFT].metadata["node_ids"] == "r"
    assert not resume.accepted
    assert resume.start_node_ids == ("a",)
    assert "m" not in resume.preset
    assert "g" not in resume.preset


def test_a_resumable_source_of_this_workflow_has_no_source_problems() -> None:
    plan, view = nb3_nb4_first_run()

    assert plan_resume(plan, view, mode=SINGLE).problems == ()


@pytest.mark.parametrize(
    "status",
    [pytest.param(RunStatus.RUNNING, id="running"), pytest.param(RunStatus.SUCCEEDED, id="succeeded")],
)
def test_a_source_neither_failed_nor_cancelled_is_rejected(status: RunStatus) -> None:
    plan, view = nb3_nb4_first_run()
    view = LineageView(run("r1", status), view.runs, view.results, view.source_node_ids)

    resume = plan_resume(plan, view, mode=SINGLE)

    assert [(p.reason, p.metadata["status"]) for p in resume.problems] == [(SOURCE_NOT_FAILED, status.name)]


def test_a_result_not_needed_by_the_resume_may_be_missing() -> None:
    plan = make_plan(LINEAR)
    view = lineage(
        [run("r1")],
        [result("start", S.SUCCEEDED, "r1", 1), result("a", S.FAILED, "r1", 2)],
        source_node_ids=["start", "a", "b", "c"],
    )

    resume = plan_resume(plan, view, mode=SINGLE)

    assert resume.accepted
    assert fates(resume) == {"start": F.RESTORED, "a": F.RERUN, "b": F.RERUN, "c": F.RERUN}


# --- drift ---------------------------------------------------------------------------------------


def drifted() -> tuple[ExecutionPlan, LineageView]:
    """`a` changed since r1 ran it; `b`'s hash matches and `pre`'s result predates hashes."""
    plan = make_plan(
        ["start>pre", "pre>a", "a>b", "b>f"],
        [Node("a", "set", config={"values": {"x": 2}}), Node("b", "set", config={"values": {"y": 1}})],
    )
    view = lineage(
        [run("r1")],
        [
            result("start", S.SUCCEEDED, "r1", 1),
            result("pre", S.SUCCEEDED, "r1", 2),
            result("a", S.SUCCEEDED, "r1", 3, definition_hash="old-hash"),
            result("b", S.SUCCEEDED, "r1", 4, definition_hash=plan.nodes["b"].definition_hash()),
            result("f", S.FAILED, "r1", 5),
        ],
    )
    return plan, view


def test_a_restored_node_that_changed_is_workflow_drift() -> None:
    plan, view = drifted()

    resume = plan_resume(plan, view, mode=SINGLE)

    assert [(p.reason, p.metadata["node_ids"]) for p in resume.problems] == [(WORKFLOW_DRIFT, "a")]
    assert "re-run changed nodes" in resume.problems[0].message
    assert fates(resume)["a"] is F.RESTORED


def test_rerun_changed_nodes_reruns_the_changed_node_and_its_descendants() -> None:
    plan, view = drifted()

    resume = plan_resume(plan, view, mode=SINGLE, rerun_changed_nodes=True)

    assert resume.accepted
    assert fates(resume) == {"start": F.RESTORED, "pre": F.RESTORED, "a": F.RERUN, "b": F.RERUN, "f": F.RERUN}
    assert reasons(resume)["a"] == "its definition changed since run r1 produced its result, so it re-runs"
    assert reasons(resume)["b"] == "downstream of a"
    assert resume.restored_node_ids == ("start", "pre")


# --- secrets -------------------------------------------------------------------------------------


def test_missing_secret_names_the_secrets_the_rerun_nodes_lack() -> None:
    plan = make_plan(
        ["start>kept", "kept>cond", "cond>yes:true", "cond>no:false"],
        [
            Node("kept", "set", config={"values": {"k": "{{ secrets.only_kept_uses_this }}"}}),
            Node("cond", "condition", config={"expression": "secrets.flag == 'on'"}),
            Node(
                "yes", "set", config={"values": {"a": "{{ secrets['api_key'] }}", "b": "{{ secrets.given }}"}}
            ),
        ],
    )
    view = lineage(
        [run("r1")],
        [
            result("start", S.SUCCEEDED, "r1", 1),
            result("kept", S.SUCCEEDED, "r1", 2),
            result("cond", S.FAILED, "r1", 3),
            result("yes", S.BLOCKED, "r1", 4),
            result("no", S.BLOCKED, "r1", 5),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE, secret_names=["given"])

    (problem,) = resume.problems
    assert problem.reason == MISSING_SECRET
    assert problem.metadata["missing_secrets"] == "api_key,flag"
    assert "api_key, flag" in problem.message
    assert plan_resume(plan, view, mode=SINGLE, secret_names=["given", "flag", "api_key"]).accepted


def test_secrets_of_blocked_nodes_are_not_required() -> None:
    plan = make_plan(NB3_NB4, [Node("join", "set", config={"values": {"t": "{{ secrets.token }}"}})])
    _, view = nb3_nb4_first_run()

    assert plan_resume(plan, view, mode=SINGLE).accepted
    assert plan_resume(plan, view, mode=ALL_FAILED).problems[0].reason == MISSING_SECRET


# --- variables -----------------------------------------------------------------------------------


def test_variables_replay_restored_writes_by_run_depth_then_sequence_over_the_inputs() -> None:
    plan = make_plan(["start>p", "start>q", "start>s", "start>f"])
    view = lineage(
        [run("r2", depth=1, inputs={"ignored": True}), run("r1", inputs={"x": 0, "y": 0, "z": 0})],
        [
            result("start", S.RESTORED, "r1", 1),
            result("p", S.RESTORED, "r1", 5, variables={"x": 1}),
            result("q", S.SUCCEEDED, "r2", 2, variables={"x": 2, "y": 2}),
            result("s", S.RESTORED, "r1", 9, variables={"y": 1, "z": 1}),
            result("f", S.FAILED, "r2", 3),
        ],
    )

    resume = plan_resume(plan, view, mode=SINGLE, inputs={"z": 5, "w": 1})

    assert resume.initial_variables == {"x": 2, "y": 2, "z": 1, "w": 1}
    assert list(resume.initial_variables) == ["x", "y", "z", "w"]
    assert plan_resume(plan, view, mode=SINGLE).initial_variables == {"x": 2, "y": 2, "z": 1}


# --- digest --------------------------------------------------------------------------------------


def test_the_digest_is_stable_across_calls() -> None:
    plan, view = nb3_nb4_first_run()

    first = plan_resume(plan, view, mode=SINGLE).digest()

    assert first == plan_resume(plan, view, mode=SINGLE).digest()
    assert first == plan_resume(make_plan(NB3_NB4), view, mode=SINGLE, start_node_ids=["nb3"]).digest()


def test_the_digest_changes_when_a_fate_changes() -> None:
    plan, view = nb3_nb4_first_run()
    single = plan_resume(plan, view, mode=SINGLE)
    single_nb4 = plan_resume(plan, view, mode=SINGLE, start_node_ids=["nb4"])
    all_failed = plan_resume(plan, view, mode=ALL_FAILED)
    newer_source = LineageView(
        view.source,
        view.runs,
        {**view.results, "start": result("start", S.SUCCEEDED, "r0", 1)},
        view.source_node_ids,
    )

    digests = {
        single.digest(),
        single_nb4.digest(),
        all_failed.digest(),
        plan_resume(plan, newer_source, mode=SINGLE).digest(),
    }

    assert len(digests) == 4


def test_a_restored_result_keeps_every_field_but_its_status_error_and_producer() -> None:
    plan = make_plan(LINEAR)
    stored = dataclasses.replace(
        result("a", S.SUCCEEDED, "r1", 4, variables={"token": "t"}, definition_hash="h"), attempts=3
    )
    view = lineage(
        [run("r1")], [result("start", S.SUCCEEDED, "r1", 2), stored, result("b", S.FAILED, "r1", 6)]
    )

    restored = plan_resume(plan, view, mode=SINGLE).preset["a"]

    changed = {"status", "error", "source_run_id"}
    for field in dataclasses.fields(NodeResult):
        if field.name not in changed:
            assert getattr(restored, field.name) == getattr(stored, field.name), field.name
