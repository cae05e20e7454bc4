import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_QUEUED: _ClassVar[RunStatus]
    RUN_STATUS_RUNNING: _ClassVar[RunStatus]
    RUN_STATUS_SUCCEEDED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_CANCELLED: _ClassVar[RunStatus]

class NodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATUS_UNSPECIFIED: _ClassVar[NodeStatus]
    NODE_STATUS_PENDING: _ClassVar[NodeStatus]
    NODE_STATUS_RUNNING: _ClassVar[NodeStatus]
    NODE_STATUS_SUCCEEDED: _ClassVar[NodeStatus]
    NODE_STATUS_FAILED: _ClassVar[NodeStatus]
    NODE_STATUS_SKIPPED: _ClassVar[NodeStatus]
    NODE_STATUS_RESTORED: _ClassVar[NodeStatus]
    NODE_STATUS_BLOCKED: _ClassVar[NodeStatus]
    NODE_STATUS_CANCELLED: _ClassVar[NodeStatus]

class ResumeMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESUME_MODE_UNSPECIFIED: _ClassVar[ResumeMode]
    RESUME_MODE_SINGLE: _ClassVar[ResumeMode]
    RESUME_MODE_ALL_FAILED: _ClassVar[ResumeMode]

class EventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_KIND_UNSPECIFIED: _ClassVar[EventKind]
    EVENT_KIND_RUN_STARTED: _ClassVar[EventKind]
    EVENT_KIND_NODE_STATUS: _ClassVar[EventKind]
    EVENT_KIND_RUN_FINISHED: _ClassVar[EventKind]
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_QUEUED: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_SUCCEEDED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_CANCELLED: RunStatus
NODE_STATUS_UNSPECIFIED: NodeStatus
NODE_STATUS_PENDING: NodeStatus
NODE_STATUS_RUNNING: NodeStatus
NODE_STATUS_SUCCEEDED: NodeStatus
NODE_STATUS_FAILED: NodeStatus
NODE_STATUS_SKIPPED: NodeStatus
NODE_STATUS_RESTORED: NodeStatus
NODE_STATUS_BLOCKED: NodeStatus
NODE_STATUS_CANCELLED: NodeStatus
RESUME_MODE_UNSPECIFIED: ResumeMode
RESUME_MODE_SINGLE: ResumeMode
RESUME_MODE_ALL_FAILED: ResumeMode
EVENT_KIND_UNSPECIFIED: EventKind
EVENT_KIND_RUN_STARTED: EventKind
EVENT_KIND_NODE_STATUS: EventKind
EVENT_KIND_RUN_FINISHED: EventKind

class ResumeSpec(_message.Message):
    __slots__ = ("source_run_id", "mode", "start_node_ids", "rerun_changed_nodes", "pin_source_version", "plan_token")
    SOURCE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    START_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    RERUN_CHANGED_NODES_FIELD_NUMBER: _ClassVar[int]
    PIN_SOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PLAN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    source_run_id: str
    mode: ResumeMode
    start_node_ids: _containers.RepeatedScalarFieldContainer[str]
    rerun_changed_nodes: bool
    pin_source_version: bool
    plan_token: str
    def __init__(self, source_run_id: _Optional[str] = ..., mode: _Optional[_Union[ResumeMode, str]] = ..., start_node_ids: _Optional[_Iterable[str]] = ..., rerun_changed_nodes: _Optional[bool] = ..., pin_source_version: _Optional[bool] = ..., plan_token: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("name", "values")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class NodeError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class NodeResult(_message.Message):
    __slots__ = ("node_id", "status", "attempts", "start_time", "end_time", "output", "variables", "error", "source_run_id", "finish_sequence", "definition_hash")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FINISH_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_HASH_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    status: NodeStatus
    attempts: int
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    output: _struct_pb2.Value
    variables: _struct_pb2.Struct
    error: NodeError
    source_run_id: str
    finish_sequence: int
    definition_hash: str
    def __init__(self, node_id: _Optional[str] = ..., status: _Optional[_Union[NodeStatus, str]] = ..., attempts: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[_Union[NodeError, _Mapping]] = ..., source_run_id: _Optional[str] = ..., finish_sequence: _Optional[int] = ..., definition_hash: _Optional[str] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("id", "workflow_id", "workflow_version", "status", "create_time", "start_time", "end_time", "inputs", "environment", "failed_node_ids", "variables", "error_summary", "request_id", "resume_from_run_id", "resume_from_node_ids", "resume_mode", "root_run_id", "lineage_depth", "node_results", "last_sequence")
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    FAILED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    ERROR_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    RESUME_MODE_FIELD_NUMBER: _ClassVar[int]
    ROOT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LINEAGE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    NODE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    workflow_id: str
    workflow_version: int
    status: RunStatus
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    inputs: _struct_pb2.Struct
    environment: Environment
    failed_node_ids: _containers.RepeatedScalarFieldContainer[str]
    variables: _struct_pb2.Struct
    error_summary: str
    request_id: str
    resume_from_run_id: str
    resume_from_node_ids: _containers.RepeatedScalarFieldContainer[str]
    resume_mode: ResumeMode
    root_run_id: str
    lineage_depth: int
    node_results: _containers.RepeatedCompositeFieldContainer[NodeResult]
    last_sequence: int
    def __init__(self, id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., workflow_version: _Optional[int] = ..., status: _Optional[_Union[RunStatus, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., failed_node_ids: _Optional[_Iterable[str]] = ..., variables: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error_summary: _Optional[str] = ..., request_id: _Optional[str] = ..., resume_from_run_id: _Optional[str] = ..., resume_from_node_ids: _Optional[_Iterable[str]] = ..., resume_mode: _Optional[_Union[ResumeMode, str]] = ..., root_run_id: _Optional[str] = ..., lineage_depth: _Optional[int] = ..., node_results: _Optional[_Iterable[_Union[NodeResult, _Mapping]]] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("run_id", "sequence", "time", "kind", "node_id", "node_status", "attempt", "message", "run_status")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUN_STATUS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    sequence: int
    time: _timestamp_pb2.Timestamp
    kind: EventKind
    node_id: str
    node_status: NodeStatus
    attempt: int
    message: str
    run_status: RunStatus
    def __init__(self, run_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[EventKind, str]] = ..., node_id: _Optional[str] = ..., node_status: _Optional[_Union[NodeStatus, str]] = ..., attempt: _Optional[int] = ..., message: _Optional[str] = ..., run_status: _Optional[_Union[RunStatus, str]] = ...) -> None: ...
