"""The executor: concurrency, failures, branches, retries, timeouts, cancellation, templates, redaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx
import pytest
from engine_helpers import BRANCHES, FAN_OUT_JOIN
from engine_helpers import make_plan as make_builtin_plan

from resumeflow_core.nodes.base import NodeCall, NodeFailure, NodeOutcome, NodeType
from resumeflow_core.nodes.builtin import BUILTIN_TYPES
from resumeflow_core.nodes.registry import NodeTypeRegistry
from resumeflow_core.records import NodeResult
from resumeflow_core.status import NodeStatus, RunStatus
from resumeflow_core.workflow import Node, RetryPolicy
from runner_service.engine import ExecutionPlan, Executor, NodeTransition

S = NodeStatus
SECRET = "s3cr3t-value"


class Echo(NodeType):
    """Outputs its rendered config; writes the mapping under `write` as variables."""

    name = "echo"

    async def execute(self, call: NodeCall) -> NodeOutcome:
        return NodeOutcome(output=call.config, variables=dict(call.config.get("write", {})))


class Flaky(NodeType):
    """Fails its first `fail_times` attempts."""

    name = "flaky"

    async def execute(self, call: NodeCall) -> NodeOutcome:
        if call.attempt <= int(call.config.get("fail_times", 0)):
            detail = call.config.get("detail", "")
            raise NodeFailure("FLAKY", f"attempt {call.attempt} failed with {detail}".strip())
        return NodeOutcome(output={"attempt": call.attempt})


class Boom(NodeType):
    """Raises an unexpected exception."""

    name = "boom"

    async def execute(self, call: NodeCall) -> NodeOutcome:
        raise RuntimeError(f"kaboom {call.config.get('detail', '')}".strip())


class Rendezvous(NodeType):
    """Waits until `parties` rendezvous nodes run at the same time (proof of concurrency)."""

    name = "rendezvous"

    def __init__(self, parties: int) -> None:
        self.barrier = asyncio.Barrier(parties)

    async def execute(self, call: NodeCall) -> NodeOutcome:
        async with asyncio.timeout(2):
            await self.barrier.wait()
        return NodeOutcome(output={"met": True})


class Gauge(NodeType):
    """Records the most attempts in flight at once."""

    name = "gauge"

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0

    async def execute(self, call: NodeCall) -> NodeOutcome:
        self.current += 1
        self.peak = max(self.peak, self.current)
        await asyncio.sleep(0.01)
        self.current -= 1
        return NodeOutcome()


def registry(*extra: NodeType) -> NodeTypeRegistry:
    return NodeTypeRegistry([*(cls() for cls in BUILTIN_TYPES), Echo(), Flaky(), Boom(), *extra])


def make_plan(edges: Iterable[str], nodes: Iterable[Node] = ()) -> ExecutionPlan:
    return make_builtin_plan(edges, nodes, registry=registry(Rendezvous(1), Gauge()))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_executor(
    plan: ExecutionPlan,
    http: httpx.AsyncClient,
    *,
    types: NodeTypeRegistry | None = None,
    inputs: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    **options: Any,
) -> Executor:
    return Executor(
        plan,
        types or registry(),
        http,
        inputs=inputs or {},
        environment={"region": "eu"},
        secrets=secrets or {},
        run_info={
            "id": "run-1",
            "workflow_id": "test",
            "workflow_version": 1,
            "root_run_id": "run-1",
            "lineage_depth": 0,
        },
        **options,
    )


async def collect(executor: Executor) -> list[NodeTransition]:
    return [transition async for transition in executor.run()]


def terminal(transitions: Iterable[NodeTransition]) -> dict[str, NodeTransition]:
    return {t.node_id: t for t in transitions if t.status.is_terminal}


def statuses(transitions: Iterable[NodeTransition]) -> dict[str, NodeStatus]:
    return {node_id: t.status for node_id, t in terminal(transitions).items()}


async def test_a_linear_run_reports_running_then_succeeded_for_each_node_in_order(
    http: httpx.AsyncClient,
) -> None:
    plan = make_plan(
        ["start>greet", "greet>end"],
        [Node("greet", "set", config={"values": {"hi": "hello {{ vars.name }}"}})],
    )
    executor = make_executor(plan, http, inputs={"name": "ada"})

    transitions = await collect(executor)

    assert [(t.node_id, t.status) for t in transitions] == [
        ("start", S.RUNNING),
        ("start", S.SUCCEEDED),
        ("greet", S.RUNNING),
        ("greet", S.SUCCEEDED),
        ("end", S.RUNNING),
        ("end", S.SUCCEEDED),
    ]
    greet = terminal(transitions)["greet"].result
    assert (
        greet is not None and greet.output == {"hi": "hello ada"} and greet.variables == {"hi": "hello ada"}
    )
    assert greet.attempts == 1
    assert greet.start_time is not None and greet.end_time is not None
    assert greet.start_time <= greet.end_time
    assert executor.status is RunStatus.SUCCEEDED
    assert executor.variables == {"name": "ada", "hi": "hello ada"}


async def test_fan_out_branches_run_concurrently_and_the_join_runs_after_all(
    http: httpx.AsyncClient,
) -> None:
    nodes = [Node(branch, "rendezvous") for branch in "abc"]
    executor = make_executor(make_plan(FAN_OUT_JOIN, nodes), http, types=registry(Rendezvous(3)))

    transitions = await collect(executor)

    assert set(statuses(transitions).values()) == {S.SUCCEEDED}
    order = [t.node_id for t in transitions if t.status is S.SUCCEEDED]
    assert order[-1] == "join"
    assert executor.status is RunStatus.SUCCEEDED


async def test_max_concurrency_bounds_the_attempts_in_flight(
    http: httpx.AsyncClient,
) -> None:
    gauge = Gauge()
    edges = [f"start>g{i}" for i in range(6)]
    executor = make_executor(
        make_plan(edges, [Node(f"g{i}", "gauge") for i in range(6)]),
        http,
        types=registry(gauge),
        max_concurrency=2,
    )

    await collect(executor)

    assert gauge.peak == 2


async def test_a_failure_blocks_its_join_while_the_other_branch_completes(
    http: httpx.AsyncClient,
) -> None:
    nodes = [
        Node("a", "assert", config={"assertions": ["vars.ok"]}),
        Node("b", "delay", config={"seconds": 0.05}),
        Node("c", "set", config={"values": {"done": True}}),
    ]
    executor = make_executor(make_plan(FAN_OUT_JOIN, nodes), http, inputs={"ok": False})

    transitions = await collect(executor)

    assert statuses(transitions) == {
        "start": S.SUCCEEDED,
        "a": S.FAILED,
        "b": S.SUCCEEDED,
        "c": S.SUCCEEDED,
        "join": S.BLOCKED,
    }
    failed = terminal(transitions)["a"].result
    assert failed is not None and failed.error is not None and failed.error.code == "ASSERTION_FAILED"
    assert "vars.ok" in failed.error.message
    assert "a (FAILED)" in terminal(transitions)["join"].message
    assert executor.status is RunStatus.FAILED
    assert executor.failed_node_ids == ["a"]
    assert executor.variables["done"] is True


@pytest.mark.parametrize(
    ("flag", "taken", "skipped"),
    [
        pytest.param(True, "yes", "no", id="true"),
        pytest.param(False, "no", "yes", id="false"),
    ],
)
async def test_a_condition_runs_one_branch_and_skips_the_other(
    http: httpx.AsyncClient, flag: bool, taken: str, skipped: str
) -> None:
    executor = make_executor(make_plan(BRANCHES), http, inputs={"flag": flag})

    transitions = await collect(executor)

    result = statuses(transitions)
    assert result[taken] is S.SUCCEEDED and result[skipped] is S.SKIPPED and result["after"] is S.SUCCEEDED
    cond = terminal(transitions)["cond"].result
    assert cond is not None and cond.output == {
        "value": flag,
        "branch": str(flag).lower(),
    }
    assert executor.status is RunStatus.SUCCEEDED


async def test_retries_with_backoff_succeed_on_a_later_attempt(
    http: httpx.AsyncClient,
) -> None:
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.05, backoff_multiplier=2)
    node = Node("f", "flaky", config={"fail_times": 2}, retry=retry)
    executor = make_executor(make_plan(["start>f"], [node]), http)

    began = time.monotonic()
    transitions = [t for t in await collect(executor) if t.node_id == "f"]

    assert time.monotonic() - began >= 0.05 + 0.1
    assert [(t.status, t.attempt) for t in transitions] == [
        (S.RUNNING, 1),
        (S.RUNNING, 2),
        (S.RUNNING, 3),
        (S.SUCCEEDED, 3),
    ]
    assert transitions[1].message == "retrying after FLAKY: attempt 1 failed with"
    result = transitions[-1].result
    assert result is not None and result.attempts == 3 and result.output == {"attempt": 3}


async def test_a_node_failing_every_attempt_fails_with_its_last_error(
    http: httpx.AsyncClient,
) -> None:
    node = Node("f", "flaky", config={"fail_times": 5}, retry=RetryPolicy(max_attempts=2))
    executor = make_executor(make_plan(["start>f", "f>end"], [node]), http)

    transitions = await collect(executor)

    failed = terminal(transitions)["f"]
    assert failed.status is S.FAILED and failed.attempt == 2
    assert failed.result is not None and failed.result.error is not None
    assert (failed.result.error.code, failed.result.error.message) == (
        "FLAKY",
        "attempt 2 failed with",
    )
    assert statuses(transitions)["end"] is S.BLOCKED


async def test_template_errors_are_not_retried(http: httpx.AsyncClient) -> None:
    node = Node(
        "f",
        "flaky",
        config={"fail_times": "{{ vars.missing }}"},
        retry=RetryPolicy(max_attempts=3),
    )
    transitions = await collect(make_executor(make_plan(["start>f"], [node]), http))

    assert [t.status for t in transitions if t.node_id == "f"] == [S.RUNNING, S.FAILED]


async def test_an_attempt_running_past_its_timeout_fails_with_timeout(
    http: httpx.AsyncClient,
) -> None:
    node = Node("slow", "delay", config={"seconds": 5}, timeout=0.05)
    executor = make_executor(make_plan(["start>slow"], [node]), http)

    transitions = await collect(executor)

    result = terminal(transitions)["slow"].result
    assert result is not None and result.error is not None
    assert result.error.code == "TIMEOUT" and "0.05 s" in result.error.message


async def test_cancel_stops_nodes_in_flight_and_cancels_those_not_started(
    http: httpx.AsyncClient,
) -> None:
    nodes = [
        Node("slow", "delay", config={"seconds": 30}),
        Node("fast", "delay", config={"seconds": 30}),
    ]
    executor = make_executor(make_plan(["start>slow", "slow>after", "start>fast", "fast>end2"], nodes), http)
    transitions = []

    async with asyncio.timeout(5):
        async for transition in executor.run():
            transitions.append(transition)
            if transition.node_id == "fast" and transition.status is S.RUNNING:
                executor.cancel()

    assert statuses(transitions) == {
        "start": S.SUCCEEDED,
        "slow": S.CANCELLED,
        "fast": S.CANCELLED,
        "after": S.CANCELLED,
        "end2": S.CANCELLED,
    }
    assert executor.status is RunStatus.CANCELLED


async def test_cancel_before_the_run_starts_cancels_every_node(
    http: httpx.AsyncClient,
) -> None:
    executor = make_executor(make_plan(["start>a"]), http)

    executor.cancel()
    transitions = await collect(executor)

    assert [(t.node_id, t.status) for t in transitions] == [
        ("start", S.CANCELLED),
        ("a", S.CANCELLED),
    ]
    assert executor.status is RunStatus.CANCELLED


async def test_a_template_error_fails_the_node_naming_the_undefined_variable(
    http: httpx.AsyncClient,
) -> None:
    node = Node("login", "set", config={"values": {"auth": "Bearer {{ vars.token }}"}})
    executor = make_executor(make_plan(["start>login", "login>end"], [node]), http)

    transitions = await collect(executor)

    failed = terminal(transitions)["login"]
    assert failed.status is S.FAILED
    assert failed.result is not None and failed.result.error is not None
    assert failed.result.error.code == "TEMPLATE_ERROR"
    assert "'vars.token' is undefined" in failed.result.error.message
    assert "values.auth" in failed.result.error.message
    assert statuses(transitions)["end"] is S.BLOCKED


async def test_an_unexpected_exception_becomes_node_error_and_other_branches_go_on(
    http: httpx.AsyncClient,
) -> None:
    executor = make_executor(make_plan(["start>bad", "start>good"], [Node("bad", "boom")]), http)

    transitions = await collect(executor)

    bad = terminal(transitions)["bad"].result
    assert bad is not None and bad.error is not None
    assert (bad.error.code, bad.error.message) == ("NODE_ERROR", "RuntimeError: kaboom")
    assert statuses(transitions)["good"] is S.SUCCEEDED


async def test_a_node_type_missing_on_the_runner_fails_the_node(
    http: httpx.AsyncClient,
) -> None:
    plan = make_plan(["start>x"], [Node("x", "echo")])
    types = NodeTypeRegistry(cls() for cls in BUILTIN_TYPES)

    transitions = await collect(make_executor(plan, http, types=types))

    result = terminal(transitions)["x"].result
    assert result is not None and result.error is not None and result.error.code == "UNKNOWN_NODE_TYPE"


async def test_nodes_see_prev_nodes_env_and_run(http: httpx.AsyncClient) -> None:
    nodes = [
        Node("a", "echo", config={"n": 1}),
        Node(
            "b",
            "echo",
            config={
                "prev": "{{ prev.n }}",
                "a": "{{ nodes.a }}",
                "env": "{{ env.region }}",
                "run": "{{ run.id }}/{{ run.workflow_version }}",
            },
        ),
    ]
    transitions = await collect(make_executor(make_plan(["start>a", "a>b"], nodes), http))

    result = terminal(transitions)["b"].result
    assert result is not None
    assert result.output == {"prev": 1, "a": {"n": 1}, "env": "eu", "run": "run-1/1"}


async def test_a_join_has_no_prev(http: httpx.AsyncClient) -> None:
    nodes = [Node("join", "echo", config={"x": "{{ prev }}"})]
    transitions = await collect(
        make_executor(make_plan(["start>a", "start>b", "a>join", "b>join"], nodes), http)
    )

    result = terminal(transitions)["join"].result
    assert result is not None and result.error is not None and "'prev' is undefined" in result.error.message


async def test_variables_written_by_a_node_are_seen_downstream(
    http: httpx.AsyncClient,
) -> None:
    nodes = [
        Node("a", "echo", config={"write": {"token": "abc"}}),
        Node("b", "echo", config={"t": "{{ vars.token }}"}),
    ]
    executor = make_executor(make_plan(["start>a", "a>b"], nodes), http)

    transitions = await collect(executor)

    b = terminal(transitions)["b"].result
    assert b is not None and b.output == {"t": "abc"}
    assert executor.variables == {"token": "abc"}


async def test_secrets_are_masked_in_outputs_variables_errors_and_messages(
    http: httpx.AsyncClient,
) -> None:
    nodes = [
        Node("auth", "set", config={"values": {"header": "Bearer {{ secrets.api_key }}"}}),
        Node(
            "flaky",
            "flaky",
            config={"fail_times": 1, "detail": "{{ secrets.api_key }}"},
            retry=RetryPolicy(max_attempts=2),
        ),
        Node("bad", "boom", config={"detail": "{{ secrets.api_key }}"}),
    ]
    executor = make_executor(
        make_plan(["start>auth", "start>flaky", "start>bad"], nodes),
        http,
        secrets={"api_key": SECRET},
    )

    transitions = await collect(executor)

    assert SECRET not in repr(transitions)
    auth = terminal(transitions)["auth"].result
    assert (
        auth is not None
        and auth.output == {"header": "Bearer ***"}
        and auth.variables == {"header": "Bearer ***"}
    )
    retry_note = next(t.message for t in transitions if t.node_id == "flaky" and t.attempt == 2)
    assert retry_note == "retrying after FLAKY: attempt 1 failed with ***"
    bad = terminal(transitions)["bad"]
    # An unexpected exception's text may quote part of a secret, which no mask would catch.
    withheld = "RuntimeError (details withheld: the run has secrets)"
    assert bad.message == f"NODE_ERROR: {withheld}"
    assert bad.result is not None and bad.result.error is not None and bad.result.error.message == withheld
    assert executor.variables == {"header": "Bearer ***"}


async def test_internal_state_keeps_raw_secret_values_for_downstream_templates(
    http: httpx.AsyncClient,
) -> None:
    nodes = [
        Node("auth", "set", config={"values": {"header": "{{ secrets.api_key }}"}}),
        Node(
            "check",
            "assert",
            config={
                "assertions": [
                    f"vars.header == '{SECRET}'",
                    "prev.header == secrets.api_key",
                ]
            },
        ),
    ]
    executor = make_executor(
        make_plan(["start>auth", "auth>check"], nodes),
        http,
        secrets={"api_key": SECRET},
    )

    transitions = await collect(executor)

    assert statuses(transitions)["check"] is S.SUCCEEDED


async def test_preset_nodes_produce_no_transitions_but_their_outputs_and_variables_are_visible(
    http: httpx.AsyncClient,
) -> None:
    nodes = [Node("b", "echo", config={"from_a": "{{ prev.token }}", "var": "{{ vars.seen }}"})]
    plan = make_plan(["start>a", "a>b", "start>c", "c>d"], nodes)
    preset = {
        "start": NodeResult("start", S.RESTORED),
        "a": NodeResult("a", S.RESTORED, output={"token": "t-1"}),
        "c": NodeResult("c", S.FAILED),
    }
    executor = make_executor(
        plan,
        http,
        inputs={"seen": "input"},
        preset=preset,
        initial_variables={"seen": "rebuilt"},
    )

    transitions = await collect(executor)

    assert [(t.node_id, t.status) for t in transitions] == [
        ("d", S.BLOCKED),
        ("b", S.RUNNING),
        ("b", S.SUCCEEDED),
    ]
    b = terminal(transitions)["b"].result
    assert b is not None and b.output == {"from_a": "t-1", "var": "rebuilt"}
    assert executor.failed_node_ids == ["c"]
    assert executor.status is RunStatus.FAILED


async def test_an_executor_runs_once(http: httpx.AsyncClient) -> None:
    executor = make_executor(make_plan(["start>a"]), http)
    await collect(executor)

    with pytest.raises(RuntimeError, match="runs once"):
        await collect(executor)


async def test_closing_the_stream_early_cancels_nodes_in_flight(
    http: httpx.AsyncClient,
) -> None:
    nodes = [Node("slow", "delay", config={"seconds": 30})]
    executor = make_executor(make_plan(["start>slow"], nodes), http)
    stream = executor.run()

    async for transition in stream:
        if transition.node_id == "slow":
            break
    await stream.aclose()  # type: ignore[attr-defined]

    assert [task for task in asyncio.all_tasks() if task.get_name() == "node-slow"] == []


async def test_a_run_whose_nodes_are_all_preset_finishes_without_transitions(
    http: httpx.AsyncClient,
) -> None:
    preset = {
        "start": NodeResult("start", S.RESTORED),
        "a": NodeResult("a", S.RESTORED, output={"x": 1}),
    }
    executor = make_executor(make_plan(["start>a"]), http, preset=preset)

    assert await collect(executor) == []
    assert executor.status is RunStatus.SUCCEEDED


async def test_a_trivial_node_with_a_timeout_still_succeeds(
    http: httpx.AsyncClient,
) -> None:
    executor = make_executor(make_plan(["start>a"], [Node("a", "noop", timeout=1)]), http)

    assert statuses(await collect(executor))["a"] is S.SUCCEEDED


# --- size limits --------------------------------------------------------------------------------


def error_of(transitions: Iterable[NodeTransition], node_id: str) -> tuple[str, str]:
    result = terminal(transitions)[node_id].result
    assert result is not None and result.error is not None
    return result.error.code, result.error.message


async def test_an_output_over_the_limit_fails_its_node_once_naming_the_size_and_the_limit(
    http: httpx.AsyncClient,
) -> None:
    retried = RetryPolicy(max_attempts=3, initial_backoff=0)
    big = Node("big", "echo", config={"blob": "x" * 2000}, retry=retried)
    plan = make_plan(["start>big", "big>after"], [big])

    transitions = await collect(make_executor(plan, http, max_output_bytes=1000))

    code, message = error_of(transitions, "big")
    assert code == "OUTPUT_TOO_LARGE"
    assert "2,013 bytes" in message  # {"blob":"x…"} and {} and "limit of 1,000 bytes" in message
    assert terminal(transitions)["big"].attempt == 1  # not retried: it would be as large again
    assert statuses(transitions)["after"] is S.BLOCKED


async def test_written_variables_count_toward_the_limit(http: httpx.AsyncClient) -> None:
    node = Node("writer", "set", config={"values": {"v": "y" * 600}})
    plan = make_plan(["start>writer"], [node])

    transitions = await collect(make_executor(plan, http, max_output_bytes=1000))

    # `set` outputs the values it writes: twice 610 bytes stored.
    assert error_of(transitions, "writer")[0] == "OUTPUT_TOO_LARGE"


async def test_the_limit_measures_the_result_as_stored_with_secrets_masked(
    http: httpx.AsyncClient,
) -> None:
    node = Node("echoes", "echo", config={"blob": "{{ secrets.api_key }}" * 80})
    plan = make_plan(["start>echoes"], [node])

    # 80 secrets of 12 bytes raw, of 3 masked: only the masked result is stored.
    transitions = await collect(make_executor(plan, http, secrets={"api_key": SECRET}, max_output_bytes=500))

    assert statuses(transitions)["echoes"] is S.SUCCEEDED


# --- shutdown -----------------------------------------------------------------------------------


async def run_until(executor: Executor, node_id: str, status: NodeStatus, then: Any) -> list[NodeTransition]:
    """Iterate the run; once `node_id` reaches `status`, call `then()`."""
    transitions = []
    async with asyncio.timeout(5):
        async for transition in executor.run():
            transitions.append(transition)
            if (transition.node_id, transition.status) == (node_id, status):
                then()
    return transitions


async def test_draining_lets_nodes_in_flight_finish_and_fails_the_next_ones_runner_shutdown(
    http: httpx.AsyncClient,
) -> None:
    nodes = [Node("slow", "delay", config={"seconds": 0.1}), Node("next", "delay", config={"seconds": 0})]
    executor = make_executor(make_plan(["start>slow", "slow>next", "next>end"], nodes), http)

    transitions = await run_until(executor, "slow", S.RUNNING, executor.drain)

    assert statuses(transitions) == {
        "start": S.SUCCEEDED,
        "slow": S.SUCCEEDED,
        "next": S.FAILED,
        "end": S.BLOCKED,
    }
    code, message = error_of(transitions, "next")
    assert code == "RUNNER_SHUTDOWN" and "not started" in message
    assert terminal(transitions)["next"].attempt == 0
    assert executor.status is RunStatus.FAILED
    assert executor.failed_node_ids == ["next"]


async def test_interrupting_fails_the_nodes_in_flight_runner_shutdown(http: httpx.AsyncClient) -> None:
    nodes = [Node("slow", "delay", config={"seconds": 30})]
    executor = make_executor(make_plan(["start>slow", "slow>end"], nodes), http)

    transitions = await run_until(executor, "slow", S.RUNNING, executor.interrupt)

    assert statuses(transitions) == {"start": S.SUCCEEDED, "slow": S.FAILED, "end": S.BLOCKED}
    assert error_of(transitions, "slow") == ("RUNNER_SHUTDOWN", "the runner shut down during attempt 1")
    assert executor.status is RunStatus.FAILED


async def test_draining_starts_no_further_attempt_and_keeps_the_real_failure(
    http: httpx.AsyncClient,
) -> None:
    retried = RetryPolicy(max_attempts=5, initial_backoff=0.05)
    node = Node("flaky", "flaky", config={"fail_times": 4}, retry=retried)
    executor = make_executor(make_plan(["start>flaky"], [node]), http)

    transitions = await run_until(executor, "flaky", S.RUNNING, executor.drain)

    assert error_of(transitions, "flaky") == ("FLAKY", "attempt 1 failed with")
    assert terminal(transitions)["flaky"].attempt == 1


async def test_a_cancelled_run_stays_cancelled_when_interrupted(http: httpx.AsyncClient) -> None:
    nodes = [Node("slow", "delay", config={"seconds": 30})]
    executor = make_executor(make_plan(["start>slow", "slow>end"], nodes), http)

    def cancel_then_interrupt() -> None:
        executor.cancel()
        executor.interrupt()

    transitions = await run_until(executor, "slow", S.RUNNING, cancel_then_interrupt)

    assert statuses(transitions) == {"start": S.SUCCEEDED, "slow": S.CANCELLED, "end": S.CANCELLED}
    assert executor.status is RunStatus.CANCELLED


async def test_a_template_over_a_limit_fails_template_limit_and_is_not_retried(
    http: httpx.AsyncClient,
) -> None:
    node = Node(
        "evil",
        "assert",
        config={"assertions": ["true", "vars.nine ** (vars.nine ** 7 * 6) > 1"]},
        retry=RetryPolicy(max_attempts=3, initial_backoff=0.01),
    )
    executor = make_executor(make_plan(["start>evil", "evil>end"], [node]), http, inputs={"nine": 9})

    transitions = await collect(executor)

    failed = terminal(transitions)["evil"]
    assert failed.result is not None and failed.result.error is not None
    assert failed.result.error.code == "TEMPLATE_LIMIT"
    assert failed.result.error.message.startswith("assertions[1]: ")
    assert "MAX_TEMPLATE_INTEGER_BITS" in failed.result.error.message
    assert failed.attempt == 1 and failed.result.attempts == 1
