"""Resuming failed runs end to end, through real servers on both databases (SPEC §5, §6)."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter

import grpc
import pytest
from integration_helpers import (
    Services,
    edge,
    error_details,
    node,
    read_to_end,
    streamed_events,
    struct,
    wait_for_node,
    workflow,
)
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

NS = run_pb2.NodeStatus
RS = run_pb2.RunStatus
SINGLE = run_pb2.RESUME_MODE_SINGLE
ALL_FAILED = run_pb2.RESUME_MODE_ALL_FAILED


def fail_first_calls(
    httpserver: HTTPServer, path: str, failures: int = 1, body: object = None
) -> Counter[str]:
    """Serve `path`, answering 503 to its first `failures` calls and `body` as JSON after."""
    calls: Counter[str] = Counter()

    def handler(request: Request) -> Response:
        calls[path] += 1
        if calls[path] <= failures:
            return Response(f"{path} is down (call {calls[path]})", status=503)
        payload = body if body is not None else {"ok": True}
        return Response(json.dumps(payload), content_type="application/json")

    httpserver.expect_request(path).respond_with_handler(handler)
    return calls


def resume_request(
    workflow_id: str, mode: int = SINGLE, *start: str, source: str = "", **fields: object
) -> rpb.RunWorkflowRequest:
    return rpb.RunWorkflowRequest(
        workflow_id=workflow_id,
        resume=run_pb2.ResumeSpec(source_run_id=source, mode=mode, start_node_ids=list(start)),
        **fields,  # type: ignore[arg-type]
    )


def statuses(run: run_pb2.Run) -> dict[str, int]:
    return {r.node_id: r.status for r in run.node_results}


def producers(run: run_pb2.Run) -> dict[str, str]:
    return {r.node_id: r.source_run_id for r in run.node_results if r.source_run_id}


async def rejected(services: Services, request: rpb.RunWorkflowRequest) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.run(request)
    return raised.value


# --- linear ---------------------------------------------------------------------------------------


def linear_http(httpserver: HTTPServer) -> workflow_pb2.Workflow:
    return workflow(
        "linear-http",
        [
            node("start", "start"),
            node("a", "http", url=httpserver.url_for("/login"), extract={"token": "response.body.token"}),
            node(
                "b",
                "http",
                url=httpserver.url_for("/orders"),
                headers={"Authorization": "Bearer {{ vars.token }}"},
                extract={"orders": "response.body.count"},
            ),
            node("c", "set", values={"summary": "{{ vars.token }}:{{ vars.orders }}"}),
            node("end", "end"),
        ],
        [("start", "a"), ("a", "b"), ("b", "c"), ("c", "end")],
    )


async def test_single_resume_restores_upstream_and_reuses_its_variables(
    services: Services, httpserver: HTTPServer
) -> None:
    logins = fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    orders = fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    await services.put(linear_http(httpserver))
    first = (await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http")))[-1].finished.run
    assert first.status == RS.RUN_STATUS_FAILED and list(first.failed_node_ids) == ["b"]

    messages = await services.run(resume_request("linear-http"))

    accepted = messages[0].accepted
    assert accepted.run.resume_from_run_id == first.id
    assert list(accepted.run.resume_from_node_ids) == ["b"]
    assert accepted.run.resume_mode == SINGLE
    assert accepted.run.root_run_id == first.id and accepted.run.lineage_depth == 1
    assert sorted(accepted.restored_node_ids) == ["a", "start"]
    resumed = await services.get_run(accepted.run.id)
    assert resumed.status == RS.RUN_STATUS_SUCCEEDED
    assert statuses(resumed) == {
        "start": NS.NODE_STATUS_RESTORED,
        "a": NS.NODE_STATUS_RESTORED,
        "b": NS.NODE_STATUS_SUCCEEDED,
        "c": NS.NODE_STATUS_SUCCEEDED,
        "end": NS.NODE_STATUS_SUCCEEDED,
    }
    assert producers(resumed) == {"start": first.id, "a": first.id}
    assert resumed.variables["summary"] == "tok-1:3"
    assert logins["/login"] == 1, "the restored node must not run again"
    assert orders["/orders"] == 2
    streamed = {e.node_id for e in streamed_events(messages)}
    assert streamed == {"b", "c", "end"}


async def test_lineage_context_reports_provenance_root_last_and_rebuilt_variables(
    services: Services, httpserver: HTTPServer
) -> None:
    fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    await services.put(linear_http(httpserver))
    first = await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http", inputs=struct(user="ada")))
    second = await services.run(resume_request("linear-http"))
    first_id, second_id = first[0].accepted.run.id, second[0].accepted.run.id

    context = await services.history.GetLineageContext(hpb.GetLineageContextRequest(run_id=second_id))

    assert [run.id for run in context.lineage] == [second_id, first_id]
    provenance = {r.node_id: r.source_run_id for r in context.node_results}
    assert provenance == {"start": first_id, "a": first_id, "b": second_id, "c": second_id, "end": second_id}
    assert context.variables["user"] == "ada"
    assert context.variables["token"] == "tok-1" and context.variables["summary"] == "tok-1:3"


# --- NB3/NB4 ----------------------------------------------------------------------------------------


def nb3_nb4(httpserver: HTTPServer) -> workflow_pb2.Workflow:
    return workflow(
        "nb3-nb4",
        [
            node("start", "start"),
            node(
                "nb3",
                "http",
                label="Fetch profile",
                url=httpserver.url_for("/profile"),
                extract={"profile": "response.body.name"},
            ),
            node(
                "nb4",
                "http",
                label="Fetch orders",
                url=httpserver.url_for("/orders"),
                extract={"orders": "response.body.count"},
            ),
            node("join", "set", values={"report": "{{ vars.profile }} has {{ vars.orders }} orders"}),
            node("end", "end"),
        ],
        [("start", "nb3"), ("start", "nb4"), ("nb3", "join"), ("nb4", "join"), ("join", "end")],
    )


async def failed_nb3_nb4(
    services: Services, httpserver: HTTPServer
) -> tuple[str, Counter[str], Counter[str]]:
    profile = fail_first_calls(httpserver, "/profile", body={"name": "ada"})
    orders = fail_first_calls(httpserver, "/orders", body={"count": 2})
    await services.put(nb3_nb4(httpserver))
    run = (await services.run(rpb.RunWorkflowRequest(workflow_id="nb3-nb4")))[-1].finished.run
    assert list(run.failed_node_ids) == ["nb3", "nb4"]
    return run.id, profile, orders


async def test_all_failed_resume_reruns_both_branches_and_finishes_through_the_join(
    services: Services, httpserver: HTTPServer
) -> None:
    first_id, _, _ = await failed_nb3_nb4(services, httpserver)

    messages = await services.run(resume_request("nb3-nb4", ALL_FAILED))

    run = await services.get_run(messages[0].accepted.run.id)
    assert list(messages[0].accepted.run.resume_from_node_ids) == ["nb3", "nb4"]
    assert run.status == RS.RUN_STATUS_SUCCEEDED
    assert statuses(run) == {
        "start": NS.NODE_STATUS_RESTORED,
        "nb3": NS.NODE_STATUS_SUCCEEDED,
        "nb4": NS.NODE_STATUS_SUCCEEDED,
        "join": NS.NODE_STATUS_SUCCEEDED,
        "end": NS.NODE_STATUS_SUCCEEDED,
    }
    assert run.variables["report"] == "ada has 2 orders"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id="nb3-nb4"))
    assert error_details(raised.value)[0] == "NO_FAILED_RUN", "the first run is resolved now"
    assert first_id


async def test_single_resume_carries_the_other_failure_and_a_second_resume_finishes(
    services: Services, httpserver: HTTPServer
) -> None:
    first_id, profile, orders = await failed_nb3_nb4(services, httpserver)

    middle = await services.run(resume_request("nb3-nb4", SINGLE, "nb3"))

    middle_run = await services.get_run(middle[0].accepted.run.id)
    assert middle_run.status == RS.RUN_STATUS_FAILED
    assert statuses(middle_run) == {
        "start": NS.NODE_STATUS_RESTORED,
        "nb3": NS.NODE_STATUS_SUCCEEDED,
        "nb4": NS.NODE_STATUS_FAILED,
        "join": NS.NODE_STATUS_BLOCKED,
        "end": NS.NODE_STATUS_BLOCKED,
    }
    assert producers(middle_run)["nb4"] == first_id, "the carried failure names the run that failed it"
    assert list(middle_run.failed_node_ids) == ["nb4"]
    latest = await services.history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id="nb3-nb4"))
    assert latest.run.id == middle_run.id
    assert [(f.node_id, f.label, f.type) for f in latest.failed_nodes] == [("nb4", "Fetch orders", "http")]
    error = latest.failed_nodes[0].error_message
    assert error.startswith("HTTP_STATUS: ") and "503" in error, "the code prefix, as events carry it"

    final = await services.run(resume_request("nb3-nb4"))

    final_run = await services.get_run(final[0].accepted.run.id)
    assert final_run.resume_from_run_id == middle_run.id and list(final_run.resume_from_node_ids) == ["nb4"]
    assert final_run.status == RS.RUN_STATUS_SUCCEEDED
    assert statuses(final_run)["nb3"] == NS.NODE_STATUS_RESTORED
    assert producers(final_run)["nb3"] == middle_run.id, "hydrated from the intermediate run"
    assert final_run.variables["report"] == "ada has 2 orders"
    assert (final_run.root_run_id, final_run.lineage_depth) == (first_id, 2)
    assert (profile["/profile"], orders["/orders"]) == (2, 2)


async def test_plan_resume_names_every_fate_without_running(
    services: Services, httpserver: HTTPServer
) -> None:
    first_id, profile, _ = await failed_nb3_nb4(services, httpserver)

    plan = await services.runner.PlanResume(
        rpb.PlanResumeRequest(
            workflow_id="nb3-nb4", resume=run_pb2.ResumeSpec(mode=SINGLE, start_node_ids=["nb3"])
        )
    )

    fates = {n.node_id: (n.fate, n.source_run_id) for n in plan.nodes}
    assert fates == {
        "start": (rpb.NODE_FATE_RESTORED, first_id),
        "nb3": (rpb.NODE_FATE_RERUN, ""),
        "nb4": (rpb.NODE_FATE_CARRIED_FAILURE, first_id),
        "join": (rpb.NODE_FATE_BLOCKED, ""),
        "end": (rpb.NODE_FATE_BLOCKED, ""),
    }
    assert all(n.reason for n in plan.nodes)
    assert list(plan.problems) == [] and plan.plan_token and plan.source_run_id == first_id
    assert profile["/profile"] == 1, "planning runs nothing"
    runs = await services.history.ListRuns(hpb.ListRunsRequest(workflow_id="nb3-nb4"))
    assert len(runs.runs) == 1


async def test_a_plan_token_runs_that_plan_and_goes_stale_when_the_definition_changes(
    services: Services, httpserver: HTTPServer
) -> None:
    await failed_nb3_nb4(services, httpserver)
    spec = run_pb2.ResumeSpec(mode=ALL_FAILED)
    plan = await services.runner.PlanResume(rpb.PlanResumeRequest(workflow_id="nb3-nb4", resume=spec))
    changed = nb3_nb4(httpserver)
    changed.nodes[-1].label = "The end"  # labels are not part of a node's definition…
    changed.nodes.append(node("audit", "noop"))  # …but a new node is
    changed.edges.append(edge("join", "audit"))
    await services.put(changed)

    error = await rejected(
        services,
        rpb.RunWorkflowRequest(
            workflow_id="nb3-nb4", resume=run_pb2.ResumeSpec(mode=ALL_FAILED, plan_token=plan.plan_token)
        ),
    )

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(error)[0] == "PLAN_STALE"
    fresh = await services.runner.PlanResume(rpb.PlanResumeRequest(workflow_id="nb3-nb4", resume=spec))
    messages = await services.run(
        rpb.RunWorkflowRequest(
            workflow_id="nb3-nb4", resume=run_pb2.ResumeSpec(mode=ALL_FAILED, plan_token=fresh.plan_token)
        )
    )
    assert messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED
    assert messages[-1].finished.run.workflow_version == 2


# --- a long chain -----------------------------------------------------------------------------------


def step(node_id: str) -> workflow_pb2.Node:
    """A set node appending its id, failing (undefined name) when `env.fail` names it."""
    value = f"{{{{ (vars.trail ~ '{node_id}') if env.fail != '{node_id}' else no_such_name }}}}"
    return node(node_id, "set", values={"trail": value})


async def test_a_chain_of_failing_resumes_ends_with_the_right_lineage_and_provenance(
    services: Services,
) -> None:
    names = [f"n{i}" for i in range(1, 8)]
    nodes = [node("start", "start")] + [step(n) for n in names] + [node("end", "end")]
    chain = ["start", *names, "end"]
    await services.put(workflow("chain", nodes, list(itertools.pairwise(chain))))
    env = lambda fail: run_pb2.Environment(name="test", values={"fail": fail})  # noqa: E731
    first = await services.run(
        rpb.RunWorkflowRequest(workflow_id="chain", inputs=struct(trail=""), environment=env("n1"))
    )
    run_ids = [first[0].accepted.run.id]

    for failing in ["n2", "n3", "n4", "n5", "n6", "none"]:
        messages = await services.run(resume_request("chain", environment=env(failing)))
        run_ids.append(messages[0].accepted.run.id)
        expected = RS.RUN_STATUS_SUCCEEDED if failing == "none" else RS.RUN_STATUS_FAILED
        assert messages[-1].finished.run.status == expected

    final = await services.get_run(run_ids[-1])
    assert (final.root_run_id, final.lineage_depth) == (run_ids[0], 6)
    assert final.variables["trail"] == "n1n2n3n4n5n6n7"
    provenance = producers(final)
    assert provenance["start"] == run_ids[0]
    for index, name in enumerate(names[:5], start=1):
        assert provenance[name] == run_ids[index], f"{name} succeeded first in resume {index}"
    assert "n6" not in provenance and statuses(final)["n6"] == NS.NODE_STATUS_SUCCEEDED
    context = await services.history.GetLineageContext(hpb.GetLineageContextRequest(run_id=final.id))
    assert [run.id for run in context.lineage] == list(reversed(run_ids))


# --- rejections -------------------------------------------------------------------------------------


async def stored_state(services: Services, workflow_id: str) -> list[tuple[str, int, int]]:
    runs = await services.history.ListRuns(hpb.ListRunsRequest(workflow_id=workflow_id))
    return [(run.id, run.status, run.last_sequence) for run in runs.runs]


async def test_bad_start_nodes_are_all_listed_and_nothing_is_stored(
    services: Services, httpserver: HTTPServer
) -> None:
    await failed_nb3_nb4(services, httpserver)
    before = await stored_state(services, "nb3-nb4")

    error = await rejected(services, resume_request("nb3-nb4", SINGLE, "ghost", "start", "end", "nb3", "nb3"))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    reason, _, violations = error_details(error)
    assert reason == "INVALID_RESUME"
    text_of = " ".join(f"{field} {description}" for field, description in violations)
    for needle in ("ghost", "start", "end", "nb3"):
        assert needle in text_of
    assert len(violations) >= 5  # unknown, start, end, duplicate, and more than one for SINGLE
    assert await stored_state(services, "nb3-nb4") == before


async def test_nothing_to_resume_is_no_failed_run(services: Services) -> None:
    await services.put(workflow("fine", [node("start", "start"), node("end", "end")], [("start", "end")]))
    await services.run(rpb.RunWorkflowRequest(workflow_id="fine"))

    error = await rejected(services, resume_request("fine"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(error)[0] == "NO_FAILED_RUN"
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await services.history.GetLatestFailed(hpb.GetLatestFailedRequest(workflow_id="fine"))
    assert error_details(raised.value)[0] == "NO_FAILED_RUN"


async def test_a_source_that_did_not_fail_or_belongs_elsewhere_is_rejected(
    services: Services, httpserver: HTTPServer
) -> None:
    failed_id, _, _ = await failed_nb3_nb4(services, httpserver)
    await services.put(workflow("fine", [node("start", "start"), node("end", "end")], [("start", "end")]))
    succeeded = (await services.run(rpb.RunWorkflowRequest(workflow_id="fine")))[0].accepted.run.id
    before = await stored_state(services, "fine")

    not_failed = await rejected(services, resume_request("fine", source=succeeded))
    other = await rejected(services, resume_request("fine", source=failed_id))

    assert not_failed.code() == other.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(not_failed)[0] == "SOURCE_NOT_FAILED"
    assert error_details(other)[0] == "SOURCE_OTHER_WORKFLOW"
    assert await stored_state(services, "fine") == before


async def test_a_result_that_is_gone_is_missing_prior_result_and_suggests_a_full_run(
    services: Services, httpserver: HTTPServer
) -> None:
    fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    await services.put(linear_http(httpserver))
    first = (await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http")))[-1].finished.run
    async with services.history_server.history.store._engine.begin() as connection:  # simulate lost data
        await connection.execute(
            text("DELETE FROM node_results WHERE run_id = :r AND node_id = 'a'"), {"r": first.id}
        )

    error = await rejected(services, resume_request("linear-http"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    reason, metadata, _ = error_details(error)
    assert reason == "MISSING_PRIOR_RESULT" and "a" in metadata["node_ids"].split(",")
    assert "full run" in error.details()
    assert len(await stored_state(services, "linear-http")) == 1


async def test_secrets_the_rerun_nodes_need_must_be_given_again(
    services: Services, httpserver: HTTPServer
) -> None:
    fail_first_calls(httpserver, "/secure", failures=1)
    await services.put(
        workflow(
            "needs-key",
            [
                node("start", "start"),
                node(
                    "call",
                    "http",
                    url=httpserver.url_for("/secure"),
                    headers={"X-Key": "{{ secrets.api_key }}"},
                ),
                node("end", "end"),
            ],
            [("start", "call"), ("call", "end")],
        )
    )
    await services.run(rpb.RunWorkflowRequest(workflow_id="needs-key", secrets={"api_key": "k-1"}))

    error = await rejected(services, resume_request("needs-key"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    reason, metadata, _ = error_details(error)
    assert reason == "MISSING_SECRET" and metadata["missing_secrets"] == "api_key"
    assert "api_key" in error.details()
    messages = await services.run(resume_request("needs-key", secrets={"api_key": "k-1"}))
    assert messages[-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED


async def test_a_changed_upstream_node_is_drift_unless_rerun_or_pinned(
    services: Services, httpserver: HTTPServer
) -> None:
    fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    await services.put(linear_http(httpserver))
    first = (await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http")))[-1].finished.run
    changed = linear_http(httpserver)
    changed.nodes[1].config["extract"]["token"] = "response.body.token ~ '!'"
    await services.put(changed)

    error = await rejected(services, resume_request("linear-http"))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    reason, metadata, _ = error_details(error)
    assert reason == "WORKFLOW_DRIFT" and metadata["node_ids"] == "a"
    pinned = await services.run(
        rpb.RunWorkflowRequest(
            workflow_id="linear-http",
            resume=run_pb2.ResumeSpec(source_run_id=first.id, pin_source_version=True),
        )
    )
    assert pinned[0].accepted.run.workflow_version == 1
    assert pinned[-1].finished.run.variables["summary"] == "tok-1:3"


async def test_rerun_changed_nodes_puts_the_changed_node_back_in_the_execution_set(
    services: Services, httpserver: HTTPServer
) -> None:
    logins = fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    await services.put(linear_http(httpserver))
    await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http"))
    changed = linear_http(httpserver)
    changed.nodes[1].config["extract"]["token"] = "response.body.token ~ '!'"
    await services.put(changed)

    messages = await services.run(
        rpb.RunWorkflowRequest(workflow_id="linear-http", resume=run_pb2.ResumeSpec(rerun_changed_nodes=True))
    )

    finished = messages[-1].finished.run
    assert finished.status == RS.RUN_STATUS_SUCCEEDED and finished.workflow_version == 2
    assert finished.variables["summary"] == "tok-1!:3"
    assert logins["/login"] == 2


async def slow_failed_run(services: Services) -> str:
    """A failed run whose resume stays active for a while (its re-run node waits)."""
    await services.put(
        workflow(
            "slow-fix",
            [
                node("start", "start"),
                node("wait", "delay", seconds="{{ 0.6 if env.mode == 'slow' else 0 }}"),
                node("check", "assert", assertions=["env.mode != 'broken'"]),
                node("end", "end"),
            ],
            [("start", "check"), ("check", "wait"), ("wait", "end")],
        )
    )
    environment = run_pb2.Environment(values={"mode": "broken"})
    return (await services.run(rpb.RunWorkflowRequest(workflow_id="slow-fix", environment=environment)))[
        0
    ].accepted.run.id


async def test_two_concurrent_resumes_of_one_failed_run_accept_exactly_one(services: Services) -> None:
    source = await slow_failed_run(services)
    request = resume_request(
        "slow-fix", source=source, environment=run_pb2.Environment(values={"mode": "slow"})
    )

    outcomes = await asyncio.gather(services.run(request), services.run(request), return_exceptions=True)

    errors = [o for o in outcomes if isinstance(o, BaseException)]
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(accepted) == 1 and len(errors) == 1
    error = errors[0]
    assert isinstance(error, grpc.aio.AioRpcError) and error.code() == grpc.StatusCode.ABORTED
    reason, metadata, _ = error_details(error)
    assert reason == "RESUME_IN_PROGRESS"
    assert metadata["active_run_id"] == accepted[0][0].accepted.run.id
    assert accepted[0][-1].finished.run.status == RS.RUN_STATUS_SUCCEEDED


async def test_a_cancelled_run_is_resumable_when_named_and_never_picked_as_latest_failed(
    services: Services,
) -> None:
    await services.put(
        workflow(
            "cancel-me",
            [
                node("start", "start"),
                node("first", "set", values={"x": 1}),
                node("wait", "delay", seconds="{{ 30 if env.slow == 'yes' else 0 }}"),
                node("end", "end"),
            ],
            [("start", "first"), ("first", "wait"), ("wait", "end")],
        )
    )
    call = services.runner.RunWorkflow(
        rpb.RunWorkflowRequest(
            workflow_id="cancel-me", environment=run_pb2.Environment(values={"slow": "yes"})
        )
    )
    run_id = (await call.read()).accepted.run.id
    await wait_for_node(call, "wait", NS.NODE_STATUS_RUNNING)
    await services.runner.CancelRun(rpb.CancelRunRequest(run_id=run_id))
    assert (await read_to_end(call))[-1].finished.run.status == RS.RUN_STATUS_CANCELLED

    latest = await rejected(services, resume_request("cancel-me"))
    assert error_details(latest)[0] == "NO_FAILED_RUN"
    messages = await services.run(
        resume_request("cancel-me", source=run_id, environment=run_pb2.Environment(values={"slow": "no"}))
    )

    resumed = await services.get_run(messages[0].accepted.run.id)
    assert resumed.status == RS.RUN_STATUS_SUCCEEDED
    assert statuses(resumed)["first"] == NS.NODE_STATUS_RESTORED
    assert statuses(resumed)["wait"] == NS.NODE_STATUS_SUCCEEDED


async def test_several_problems_are_reported_together_with_all_their_details(
    services: Services, httpserver: HTTPServer
) -> None:
    fail_first_calls(httpserver, "/login", failures=0, body={"token": "tok-1"})
    fail_first_calls(httpserver, "/orders", failures=1, body={"count": 3})
    flow = linear_http(httpserver)
    flow.nodes[2].config["headers"]["X-Key"] = "{{ secrets.api_key }}"
    await services.put(flow)
    await services.run(rpb.RunWorkflowRequest(workflow_id="linear-http", secrets={"api_key": "k"}))
    flow.nodes[1].config["extract"]["token"] = "response.body.token ~ '!'"
    await services.put(flow)

    error = await rejected(services, resume_request("linear-http"))

    reason, metadata, _ = error_details(error)
    assert reason == "WORKFLOW_DRIFT"
    assert metadata["reasons"] == "WORKFLOW_DRIFT,MISSING_SECRET"
    assert metadata["missing_secrets"] == "api_key"
    assert "a" in metadata["node_ids"].split(",")
