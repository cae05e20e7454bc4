"""The resume invariant through real servers (SPEC §5): for deterministic nodes, any chain
fail → resume → … → success ends with exactly the node outputs and variables of one clean run."""

from __future__ import annotations

import itertools

from google.protobuf.json_format import MessageToDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integration_helpers import Services, node, workflow

from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

RS = run_pb2.RunStatus
MAX_RESUMES = 12
_ids = itertools.count()


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    """Node ids n0…nk and each node's parents among the earlier ones (empty: hangs off start)."""
    count = draw(st.integers(min_value=2, max_value=8))
    ids = [f"n{i}" for i in range(count)]
    parents = {
        node_id: draw(st.lists(st.sampled_from(ids[:index]), unique=True, max_size=3)) if index else []
        for index, node_id in enumerate(ids)
    }
    return ids, parents


def build(workflow_id: str, ids: list[str], parents: dict[str, list[str]]) -> workflow_pb2.Workflow:
    """Each node writes v_<id> from its parents' values; it fails when env.fail_<id> is 'yes'."""
    nodes = [node("start", "start"), node("end", "end")]
    edges: list[tuple[str, str]] = []
    for index, node_id in enumerate(ids):
        total = " + ".join([f"vars.v_{p}" for p in parents[node_id]] + ["vars.seed", str(index + 1)])
        value = f"{{{{ ({total}) * 2 if env.fail_{node_id} != 'yes' else no_such_name }}}}"
        nodes.append(node(node_id, "set", values={f"v_{node_id}": value}))
        edges += [(p, node_id) for p in parents[node_id]] or [("start", node_id)]
    has_children = {source for source, _ in edges}
    edges += [(node_id, "end") for node_id in ids if node_id not in has_children]
    return workflow(workflow_id, nodes, edges)


def environment(ids: list[str], failing: set[str]) -> run_pb2.Environment:
    return run_pb2.Environment(values={f"fail_{i}": "yes" if i in failing else "no" for i in ids})


async def outcome(services: Services, run_id: str) -> tuple[dict[str, object], dict[str, object]]:
    run = await services.get_run(run_id)
    outputs = {r.node_id: MessageToDict(r.output) for r in run.node_results}
    return outputs, MessageToDict(run.variables)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(graph=dags(), data=st.data())
async def test_any_resume_chain_ends_like_one_clean_run(
    services: Services, graph: tuple[list[str], dict[str, list[str]]], data: st.DataObject
) -> None:
    ids, parents = graph
    workflow_id = f"random-{next(_ids)}"
    await services.put(build(workflow_id, ids, parents))
    inputs = {"seed": data.draw(st.integers(0, 100), label="seed")}
    clean = await services.run(
        rpb.RunWorkflowRequest(workflow_id=workflow_id, environment=environment(ids, set()), inputs=inputs)
    )
    assert clean[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED

    failing = data.draw(st.sets(st.sampled_from(ids), min_size=1), label="first failures")
    messages = await services.run(
        rpb.RunWorkflowRequest(workflow_id=workflow_id, environment=environment(ids, failing), inputs=inputs)
    )
    for round_number in range(MAX_RESUMES):
        if messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED:
            break
        mode = data.draw(
            st.sampled_from([run_pb2.RESUME_MODE_SINGLE, run_pb2.RESUME_MODE_ALL_FAILED]), label="mode"
        )
        # New failures for a few rounds, then none, so every chain ends.
        failing = data.draw(st.sets(st.sampled_from(ids)), label="failures") if round_number < 3 else set()
        messages = await services.run(
            rpb.RunWorkflowRequest(
                workflow_id=workflow_id,
                environment=environment(ids, failing),
                resume=run_pb2.ResumeSpec(mode=mode),
            )
        )
    final = messages[-1].finished.run
    assert final.status == RS.RUN_STATUS_SUCCEEDED

    assert await outcome(services, final.id) == await outcome(services, clean[0].accepted.run.id)
