"""Hypothesis strategies for hostile requests to every RPC of both services: random and known ids,
unicode, NUL bytes, huge and negative numbers, unknown enum values, random page and plan tokens,
random Struct values (NaN and infinities included), and times and durations out of range."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from hypothesis import strategies as st

from resumeflow.v1 import history_service_pb2 as hpb
from resumeflow.v1 import run_pb2, workflow_pb2
from resumeflow.v1 import runner_service_pb2 as rpb

EDGE_INTS = [0, 1, -1, 2**31 - 1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63), 10**11, -(10**11)]
NODE_TYPES = ["start", "end", "noop", "set", "assert", "condition", "delay", "http"]


@dataclass(frozen=True)
class Known:
    """Ids that exist in the database under test, so that some requests reach past the lookups."""

    workflow_ids: tuple[str, ...]
    run_ids: tuple[str, ...]
    node_ids: tuple[str, ...]
    runner_ids: tuple[str, ...]


@dataclass(frozen=True)
class Rpc:
    """One RPC: its service, its name, whether it streams responses, and a strategy for requests."""

    service: str
    name: str
    streaming: bool
    requests: Callable[[Known], st.SearchStrategy[Message]]

    @property
    def path(self) -> str:
        return f"/resumeflow.v1.{self.service}/{self.name}"


# --- scalars -------------------------------------------------------------------------------------

# Protobuf strings are UTF-8: a Python client cannot send a lone surrogate (raw requests can).
_unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
texts = st.one_of(
    _unicode,
    st.sampled_from(["", "\x00", "a\x00b", "é", "🙂", "\n", "-", "x" * 201]),
    st.integers(150, 20_000).map(lambda n: "ü" * n),
)
short_texts = st.one_of(_unicode, st.sampled_from(["", "\x00", "k\x00"]))
int64s = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-(2**63), 2**63 - 1))
int32s = st.one_of(st.sampled_from([0, 1, -1, 2**31 - 1, -(2**31)]), st.integers(-(2**31), 2**31 - 1))
doubles = st.one_of(st.floats(), st.sampled_from([float("nan"), float("inf"), -1.0, 0.0, 2.0]))


def ids(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), texts) if known else texts


def enums(values: list[int]) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(values), int32s)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


timestamps = st.builds(timestamp_pb2.Timestamp, seconds=int64s, nanos=int32s)
durations = st.one_of(
    st.builds(duration_pb2.Duration, seconds=int64s, nanos=int32s),
    st.builds(duration_pb2.Duration, seconds=st.integers(0, 100), nanos=st.integers(0, 999_999_999)),
)

# --- Struct values -------------------------------------------------------------------------------

_json_leaves = st.one_of(
    st.none(), st.booleans(), doubles, st.integers(-(2**60), 2**60), short_texts, st.just("ü" * 5000)
)
json_values = st.recursive(
    _json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(short_texts, children, max_size=3)
    ),
    max_leaves=10,
)


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def _value(item: Any) -> struct_pb2.Value:
    return _struct({"v": item}).fields["v"]


# Depth 40 of lists is as deep as protobuf lets a client encode inside a request.
structs = st.one_of(
    st.dictionaries(short_texts, json_values, max_size=4),
    st.integers(1, 40).map(lambda depth: {"deep": _nested(depth)}),
).map(_struct)
values = json_values.map(_value)


# --- tokens --------------------------------------------------------------------------------------

_token_parts = st.lists(
    st.one_of(
        short_texts,
        st.integers(),
        st.sampled_from(
            ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00", "x\x00"]
        ),
    ),
    max_size=3,
)


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


page_tokens = st.one_of(
    texts,
    _token_parts.map(_b64),
    st.integers(1, 3000).map(lambda depth: _b64(_nested(depth)) if depth < 900 else "W" * depth),
)
plan_tokens = st.one_of(
    texts,
    _token_parts.map(lambda parts: "rf1." + _b64(parts).rstrip("=")),
    st.integers(1, 3000).map(lambda depth: "rf1." + base64.urlsafe_b64encode(b"[" * depth).decode()),
)

# --- messages ------------------------------------------------------------------------------------


def environments() -> st.SearchStrategy[run_pb2.Environment]:
    return st.builds(run_pb2.Environment, name=texts, values=st.dictionaries(short_texts, texts, max_size=3))


def node_results(known: Known) -> st.SearchStrategy[run_pb2.NodeResult]:
    return st.builds(
        run_pb2.NodeResult,
        node_id=ids(known.node_ids),
        status=enums(list(run_pb2.NodeStatus.values())),
        attempts=int32s,
        start_time=optional(timestamps),
        end_time=optional(timestamps),
        output=optional(values),
        variables=optional(structs),
        error=optional(st.builds(run_pb2.NodeError, code=texts, message=texts)),
        source_run_id=ids(known.run_ids),
        finish_sequence=int64s,
        definition_hash=texts,
    )


def events(known: Known) -> st.SearchStrategy[run_pb2.Event]:
    return st.builds(
        run_pb2.Event,
        run_id=ids(known.run_ids),
        sequence=int64s,
        time=optional(timestamps),
        kind=enums(list(run_pb2.EventKind.values())),
        node_id=ids(known.node_ids),
        node_status=enums(list(run_pb2.NodeStatus.values())),
        attempt=int32s,
        message=texts,
        run_status=enums(list(run_pb2.RunStatus.values())),
    )


def runs(known: Known) -> st.SearchStrategy[run_pb2.Run]:
    return st.builds(
        run_pb2.Run,
        id=texts,
        workflow_id=ids(known.workflow_ids),
        workflow_version=int64s,
        status=enums(list(run_pb2.RunStatus.values())),
        create_time=optional(timestamps),
        inputs=optional(structs),
        environment=optional(environments()),
        failed_node_ids=st.lists(ids(known.node_ids), max_size=3),
        variables=optional(structs),
        error_summary=texts,
        request_id=texts,
        resume_from_run_id=ids(known.run_ids),
        resume_from_node_ids=st.lists(ids(known.node_ids), max_size=3),
        resume_mode=enums(list(run_pb2.ResumeMode.values())),
        root_run_id=ids(known.run_ids),
        lineage_depth=int32s,
        node_results=st.lists(node_results(known), max_size=2),
        last_sequence=int64s,
    )


def resume_specs(known: Known) -> st.SearchStrategy[run_pb2.ResumeSpec]:
    return st.builds(
        run_pb2.ResumeSpec,
        source_run_id=ids(known.run_ids),
        mode=enums(list(run_pb2.ResumeMode.values())),
        start_node_ids=st.one_of(
            st.lists(ids(known.node_ids), max_size=4), st.just([f"ghost-{i}" for i in range(2000)])
        ),
        rerun_changed_nodes=st.booleans(),
        pin_source_version=st.booleans(),
        plan_token=st.one_of(st.just(""), plan_tokens),
    )


def workflows(known: Known) -> st.SearchStrategy[workflow_pb2.Workflow]:
    node_ids = ids(("start", *known.node_ids))
    nodes = st.builds(
        workflow_pb2.Node,
        id=node_ids,
        type=st.one_of(st.sampled_from(NODE_TYPES), texts),
        label=texts,
        config=optional(structs),
        retry=optional(
            st.builds(
                workflow_pb2.RetryPolicy,
                max_attempts=int32s,
                initial_backoff=optional(durations),
                backoff_multiplier=doubles,
                max_backoff=optional(durations),
            )
        ),
        timeout=optional(durations),
    )
    edges = st.builds(
        workflow_pb2.Edge, source=node_ids, target=node_ids, branch=st.one_of(texts, st.just(""))
    )
    return st.builds(
        workflow_pb2.Workflow,
        id=st.one_of(st.sampled_from(["fuzz-new", *known.workflow_ids]), texts),
        name=texts,
        version=int64s,
        nodes=st.lists(nodes, max_size=4).map(
            lambda drawn: [workflow_pb2.Node(id="start", type="start"), *drawn]
        ),
        edges=st.lists(edges, max_size=4),
        create_time=optional(timestamps),
    )


def _history(
    name: str, requests: Callable[[Known], st.SearchStrategy[Message]], streaming: bool = False
) -> Rpc:
    return Rpc("HistoryService", name, streaming, requests)


def _runner(
    name: str, requests: Callable[[Known], st.SearchStrategy[Message]], streaming: bool = False
) -> Rpc:
    return Rpc("RunnerService", name, streaming, requests)


RUN_STATUSES = list(run_pb2.RunStatus.values())

RPCS: tuple[Rpc, ...] = (
    _history("PutWorkflow", lambda k: st.builds(hpb.PutWorkflowRequest, workflow=optional(workflows(k)))),
    _history(
        "GetWorkflow",
        lambda k: st.builds(hpb.GetWorkflowRequest, workflow_id=ids(k.workflow_ids), version=int64s),
    ),
    _history(
        "ListWorkflows",
        lambda k: st.builds(hpb.ListWorkflowsRequest, page_size=int32s, page_token=page_tokens),
    ),
    _history("GetRun", lambda k: st.builds(hpb.GetRunRequest, run_id=ids(k.run_ids))),
    _history(
        "ResolveRunId",
        lambda k: st.builds(
            hpb.ResolveRunIdRequest,
            prefix=st.one_of(ids(k.run_ids), ids(k.run_ids).map(lambda run_id: run_id[:6])),
        ),
    ),
    _history(
        "ListRuns",
        lambda k: st.builds(
            hpb.ListRunsRequest,
            workflow_id=st.one_of(st.just(""), ids(k.workflow_ids)),
            statuses=st.lists(enums(RUN_STATUSES), max_size=3),
            page_size=int32s,
            page_token=st.one_of(st.just(""), page_tokens),
        ),
    ),
    _history(
        "GetLatestFailed", lambda k: st.builds(hpb.GetLatestFailedRequest, workflow_id=ids(k.workflow_ids))
    ),
    _history("GetLineageContext", lambda k: st.builds(hpb.GetLineageContextRequest, run_id=ids(k.run_ids))),
    _history(
        "WatchRun",
        lambda k: st.builds(hpb.WatchRunRequest, run_id=ids(k.run_ids), after_sequence=int64s),
        streaming=True,
    ),
    _history(
        "CreateRun",
        lambda k: st.builds(
            hpb.CreateRunRequest,
            run=optional(runs(k)),
            runner_id=ids(k.runner_ids),
            lease_duration=optional(durations),
            node_results=st.lists(node_results(k), max_size=2),
            node_ids=st.lists(ids(k.node_ids), max_size=4),
            copied_node_ids=st.lists(ids(k.node_ids), max_size=2),
        ),
    ),
    _history(
        "AppendEvents",
        lambda k: st.builds(
            hpb.AppendEventsRequest,
            run_id=ids(k.run_ids),
            runner_id=ids(k.runner_ids),
            events=st.lists(events(k), max_size=3),
            node_results=st.lists(node_results(k), max_size=2),
        ),
    ),
    _history(
        "FinishRun",
        lambda k: st.builds(
            hpb.FinishRunRequest,
            run_id=ids(k.run_ids),
            runner_id=ids(k.runner_ids),
            status=enums(RUN_STATUSES),
            failed_node_ids=st.lists(ids(k.node_ids), max_size=3),
            variables=optional(structs),
            error_summary=texts,
            event=optional(events(k)),
            events=st.lists(events(k), max_size=2),
            node_results=st.lists(node_results(k), max_size=2),
        ),
    ),
    _history(
        "HeartbeatRun",
        lambda k: st.builds(
            hpb.HeartbeatRunRequest,
            run_id=ids(k.run_ids),
            runner_id=ids(k.runner_ids),
            lease_duration=optional(durations),
        ),
    ),
    _history("RequestCancel", lambda k: st.builds(hpb.RequestCancelRequest, run_id=ids(k.run_ids))),
    _runner(
        "RunWorkflow",
        lambda k: st.builds(
            rpb.RunWorkflowRequest,
            workflow_id=ids(k.workflow_ids),
            inputs=optional(structs),
            environment=optional(environments()),
            secrets=st.dictionaries(short_texts, texts, max_size=2),
            request_id=st.one_of(st.just(""), texts),
            resume=optional(resume_specs(k)),
            max_concurrency=int32s,
        ),
        streaming=True,
    ),
    _runner(
        "PlanResume",
        lambda k: st.builds(
            rpb.PlanResumeRequest,
            workflow_id=ids(k.workflow_ids),
            resume=optional(resume_specs(k)),
            secret_names=st.lists(short_texts, max_size=3),
        ),
    ),
    _runner("CancelRun", lambda k: st.builds(rpb.CancelRunRequest, run_id=ids(k.run_ids))),
)

# Bytes that are not a valid request of any kind: bad UTF-8, truncation, garbage.
raw_requests = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"\x0a\x03\xff\xfe\xfd", b"\x0a\x05ab", b"\xff\xff\xff\xff", b"\x12\x00\x0a\x01\x00"]),
)
