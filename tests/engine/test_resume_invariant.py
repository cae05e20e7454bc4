"""The resume invariant (SPEC §5), property-tested: any chain fail → resume → … → success of
deterministic nodes ends with exactly the node outputs and variables of one clean full run."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
from hypothesis import event, given
from resume_strategies import Scenario, scenarios

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome
from resumeflow_core.nodes.builtin import BUILTIN_TYPES
from resumeflow_core.nodes.data import ConditionNode, SetNode
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.records import NodeResult, Run
from resumeflow_core.status import NodeStatus, ResumeMode, RunStatus
from runner_service.engine import ExecutionPlan, Executor, LineageView, NodeFate, ResumePlan, plan_resume

S = NodeStatus
INJECTED = "INJECTED"


def _injected(call: NodeCall) -> None:
    """Fail when the run's environment says so: each run of a chain picks its own failures."""
    if call.context.env.get(f"fail_{call.node.id}") == "yes":
        raise NodeFailure(INJECTED, f"{call.node.id} was told to fail")


class ChaosSet(SetNode):
    """The built-in `set`, failing on demand."""

    async def execute(self, call: NodeCall) -> NodeOutcome:
        _injected(call)
        return await super().execute(call)


class ChaosCondition(ConditionNode):
    """The built-in `condition`, failing on demand."""

    async def execute(self, call: NodeCall) -> NodeOutcome:
        _injected(call)
        return await super().execute(call)


REGISTRY = NodeTypeRegistry([*(cls() for cls in BUILTIN_TYPES), ChaosSet(), ChaosCondition()])


@dataclass
class Outcome:
    """One finished run of the chain, as the history would hold it."""

    run: Run
    results: dict[str, NodeResult]
    """Effective results: the preset (with its producers) and what this run executed."""
    executed: dict[str, NodeResult]
    variables: dict[str, Any]


def _no_http(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no node of these workflows calls HTTP ({request.url})")


async def execute(
    plan: ExecutionPlan,
    client: httpx.AsyncClient,
    *,
    run_id: str,
    depth: int,
    failing: frozenset[str],
    inputs: Mapping[str, Any],
    resume: ResumePlan | None = None,
) -> Outcome:
    """Run the plan with the real executor; number the transitions as the run's event log would."""
    environment = {f"fail_{node_id}": "yes" for node_id in failing}
    executor = Executor(
        plan,
        REGISTRY,
        client,
        inputs=inputs,
        environment=environment,
        secrets={},
        run_info={"id": run_id, "lineage_depth": depth},
        preset=None if resume is None else resume.preset,
        initial_variables=None if resume is None else resume.initial_variables,
    )
    executed: dict[str, NodeResult] = {}
    sequence = 1  # RUN_STARTED
    async for transition in executor.run():
        sequence += 1
        if transition.status.is_terminal:
            assert transition.result is not None
            executed[transition.node_id] = replace(
                transition.result,
                source_run_id=run_id,
                finish_sequence=sequence,
                definition_hash=plan.nodes[transition.node_id].definition_hash(),
            )
    run = Run(
        id=run_id,
        workflow_id=plan.workflow.id,
        workflow_version=plan.workflow.version,
        status=executor.status,
        inputs=dict(inputs),
        environment=environment,
        failed_node_ids=executor.failed_node_ids,
        variables=executor.variables,
        lineage_depth=depth,
    )
    results = {**(resume.preset if resume else {}), **executed}
    assert set(results) == set(plan.order)
    return Outcome(run, results, executed, executor.variables)


def start_nodes(scenario: Scenario, index: int, results: Mapping[str, NodeResult]) -> tuple[str, ...]:
    """This round's explicit start node, when it picks one."""
    round_ = scenario.round(index)
    failed = [node_id for node_id, r in results.items() if r.status is S.FAILED]
    if round_.mode is not ResumeMode.SINGLE or round_.pick is None or not failed:
        return ()
    return (sorted(failed)[round_.pick % len(failed)],)


def check_provenance(resume: ResumePlan, outcome: Outcome, chain: Mapping[str, Outcome]) -> None:
    """Reused results come from earlier runs of the chain that produced them; re-run ones are new."""
    for planned in resume.nodes:
        node_id = planned.node_id
        mine = outcome.results[node_id]
        if planned.fate is NodeFate.RESTORED:
            producer = chain[planned.source_run_id]
            assert mine.status is S.RESTORED
            assert producer.executed[node_id].status is S.SUCCEEDED
            assert mine.output == producer.executed[node_id].output
        elif planned.fate is NodeFate.CARRIED_FAILURE:
            assert mine.status is S.FAILED
            assert chain[planned.source_run_id].executed[node_id].status is S.FAILED
        elif planned.fate is NodeFate.BLOCKED:
            assert mine.status is S.BLOCKED
        if planned.fate in (NodeFate.RERUN, NodeFate.BLOCKED):
            assert node_id in outcome.executed
        else:
            assert node_id not in outcome.executed


def check_minimal(plan: ExecutionPlan, resume: ResumePlan, source: Mapping[str, NodeResult]) -> None:
    """A node re-runs only as a start node, as a node that never ran, or below a re-run node."""
    fates = {p.node_id: p.fate for p in resume.nodes}
    kept = (S.SUCCEEDED, S.RESTORED, S.SKIPPED, S.FAILED)
    for node_id, fate in fates.items():
        if fate is NodeFate.RERUN:
            assert (
                node_id in resume.start_node_ids
                or source[node_id].status not in kept
                or any(fates[p] in (NodeFate.RERUN, NodeFate.BLOCKED) for p in plan.parents[node_id])
            ), node_id


async def run_chain(scenario: Scenario) -> None:
    plan = ExecutionPlan.build(scenario.workflow)
    root_inputs = {"seed": scenario.seed}
    max_rounds = len(scenario.rounds) + len(plan.order) + 2
    async with httpx.AsyncClient(transport=httpx.MockTransport(_no_http)) as client:
        clean = await execute(plan, client, run_id="clean", depth=0, failing=frozenset(), inputs=root_inputs)
        assert clean.run.status is RunStatus.SUCCEEDED
        latest = await execute(
            plan, client, run_id="run0", depth=0, failing=scenario.round(0).failing, inputs=root_inputs
        )
        chain = {"run0": latest}
        lineage = [latest.run]  # newest first
        for index in range(1, max_rounds):
            if latest.run.status is RunStatus.SUCCEEDED:
                break
            assert latest.run.status is RunStatus.FAILED
            view = LineageView(latest.run, tuple(lineage), latest.results, frozenset(plan.order))
            round_ = scenario.round(index)
            resume = plan_resume(
                plan, view, mode=round_.mode, start_node_ids=start_nodes(scenario, index, latest.results)
            )
            assert resume.accepted, (resume.violations, resume.problems)
            assert [p.node_id for p in resume.nodes] == list(plan.order)
            assert resume.start_node_ids
            check_minimal(plan, resume, latest.results)
            run_id = f"run{index}"
            # A resume is given no inputs: the planner must rebuild them from the root run.
            latest = await execute(
                plan, client, run_id=run_id, depth=index, failing=round_.failing, inputs={}, resume=resume
            )
            check_provenance(resume, latest, chain)
            for fate in sorted({p.fate for p in resume.nodes}):
                event(f"fate {fate.name}")
            chain[run_id] = latest
            lineage.insert(0, latest.run)

    assert latest.run.status is RunStatus.SUCCEEDED, "the chain never succeeded"
    event(f"runs in the chain: {len(chain)}")
    for node_id in plan.order:
        final, reference = latest.results[node_id], clean.results[node_id]
        if reference.status is S.SUCCEEDED:
            assert final.status in (S.SUCCEEDED, S.RESTORED), node_id
        else:
            assert final.status is reference.status, node_id
        assert final.output == reference.output, node_id
    assert latest.variables == clean.variables


@given(scenarios())
def test_any_chain_of_resumes_ends_as_one_clean_full_run(scenario: Scenario) -> None:
    asyncio.run(run_chain(scenario))
