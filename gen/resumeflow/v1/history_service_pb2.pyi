import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from resumeflow.v1 import run_pb2 as _run_pb2
from resumeflow.v1 import workflow_pb2 as _workflow_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PutWorkflowRequest(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: _workflow_pb2.Workflow
    def __init__(self, workflow: _Optional[_Union[_workflow_pb2.Workflow, _Mapping]] = ...) -> None: ...

class PutWorkflowResponse(_message.Message):
    __slots__ = ("workflow", "changed")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    workflow: _workflow_pb2.Workflow
    changed: bool
    def __init__(self, workflow: _Optional[_Union[_workflow_pb2.Workflow, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("workflow_id", "version")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    version: int
    def __init__(self, workflow_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: _workflow_pb2.Workflow
    def __init__(self, workflow: _Optional[_Union[_workflow_pb2.Workflow, _Mapping]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_page_token")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[_workflow_pb2.Workflow]
    next_page_token: str
    def __init__(self, workflows: _Optional[_Iterable[_Union[_workflow_pb2.Workflow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("workflow_id", "statuses", "page_size", "page_token")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_run_pb2.RunStatus]
    page_size: int
    page_token: str
    def __init__(self, workflow_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_run_pb2.RunStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ResolveRunIdRequest(_message.Message):
    __slots__ = ("prefix",)
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    prefix: str
    def __init__(self, prefix: _Optional[str] = ...) -> None: ...

class ResolveRunIdResponse(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetLatestFailedRequest(_message.Message):
    __slots__ = ("workflow_id",)
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    def __init__(self, workflow_id: _Optional[str] = ...) -> None: ...

class FailedNode(_message.Message):
    __slots__ = ("node_id", "label", "type", "error_message")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    label: str
    type: str
    error_message: str
    def __init__(self, node_id: _Optional[str] = ..., label: _Optional[str] = ..., type: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class GetLatestFailedResponse(_message.Message):
    __slots__ = ("run", "failed_nodes")
    RUN_FIELD_NUMBER: _ClassVar[int]
    FAILED_NODES_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    failed_nodes: _containers.RepeatedCompositeFieldContainer[FailedNode]
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., failed_nodes: _Optional[_Iterable[_Union[FailedNode, _Mapping]]] = ...) -> None: ...

class GetLineageContextRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetLineageContextResponse(_message.Message):
    __slots__ = ("lineage", "node_results", "variables")
    LINEAGE_FIELD_NUMBER: _ClassVar[int]
    NODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    lineage: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    node_results: _containers.RepeatedCompositeFieldContainer[_run_pb2.NodeResult]
    variables: _struct_pb2.Struct
    def __init__(self, lineage: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ..., node_results: _Optional[_Iterable[_Union[_run_pb2.NodeResult, _Mapping]]] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id", "after_sequence")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    after_sequence: int
    def __init__(self, run_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_run_pb2.Event, _Mapping]]] = ...) -> None: ...

class CreateRunRequest(_message.Message):
    __slots__ = ("run", "runner_id", "lease_duration", "node_results", "node_ids", "copied_node_ids")
    RUN_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    NODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    COPIED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    runner_id: str
    lease_duration: _duration_pb2.Duration
    node_results: _containers.RepeatedCompositeFieldContainer[_run_pb2.NodeResult]
    node_ids: _containers.RepeatedScalarFieldContainer[str]
    copied_node_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., runner_id: _Optional[str] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., node_results: _Optional[_Iterable[_Union[_run_pb2.NodeResult, _Mapping]]] = ..., node_ids: _Optional[_Iterable[str]] = ..., copied_node_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRunResponse(_message.Message):
    __slots__ = ("run", "existing")
    RUN_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    existing: bool
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., existing: _Optional[bool] = ...) -> None: ...

class AppendEventsRequest(_message.Message):
    __slots__ = ("run_id", "runner_id", "events", "node_results")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    runner_id: str
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.Event]
    node_results: _containers.RepeatedCompositeFieldContainer[_run_pb2.NodeResult]
    def __init__(self, run_id: _Optional[str] = ..., runner_id: _Optional[str] = ..., events: _Optional[_Iterable[_Union[_run_pb2.Event, _Mapping]]] = ..., node_results: _Optional[_Iterable[_Union[_run_pb2.NodeResult, _Mapping]]] = ...) -> None: ...

class AppendEventsResponse(_message.Message):
    __slots__ = ("last_sequence", "cancel_requested")
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    last_sequence: int
    cancel_requested: bool
    def __init__(self, last_sequence: _Optional[int] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class FinishRunRequest(_message.Message):
    __slots__ = ("run_id", "runner_id", "status", "failed_node_ids", "variables", "error_summary", "event", "events", "node_results")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    runner_id: str
    status: _run_pb2.RunStatus
    failed_node_ids: _containers.RepeatedScalarFieldContainer[str]
    variables: _struct_pb2.Struct
    error_summary: str
    event: _run_pb2.Event
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.Event]
    node_results: _containers.RepeatedCompositeFieldContainer[_run_pb2.NodeResult]
    def __init__(self, run_id: _Optional[str] = ..., runner_id: _Optional[str] = ..., status: _Optional[_Union[_run_pb2.RunStatus, str]] = ..., failed_node_ids: _Optional[_Iterable[str]] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error_summary: _Optional[str] = ..., event: _Optional[_Union[_run_pb2.Event, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_run_pb2.Event, _Mapping]]] = ..., node_results: _Optional[_Iterable[_Union[_run_pb2.NodeResult, _Mapping]]] = ...) -> None: ...

class FinishRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ...) -> None: ...

class HeartbeatRunRequest(_message.Message):
    __slots__ = ("run_id", "runner_id", "lease_duration")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_DURATION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    runner_id: str
    lease_duration: _duration_pb2.Duration
    def __init__(self, run_id: _Optional[str] = ..., runner_id: _Optional[str] = ..., lease_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class HeartbeatRunResponse(_message.Message):
    __slots__ = ("lease_expire_time", "cancel_requested")
    LEASE_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    lease_expire_time: _timestamp_pb2.Timestamp
    cancel_requested: bool
    def __init__(self, lease_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class RequestCancelRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RequestCancelResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _run_pb2.RunStatus
    def __init__(self, status: _Optional[_Union[_run_pb2.RunStatus, str]] = ...) -> None: ...
