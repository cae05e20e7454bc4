from google.protobuf import struct_pb2 as _struct_pb2
from resumeflow.v1 import run_pb2 as _run_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeFate(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_FATE_UNSPECIFIED: _ClassVar[NodeFate]
    NODE_FATE_RERUN: _ClassVar[NodeFate]
    NODE_FATE_RESTORED: _ClassVar[NodeFate]
    NODE_FATE_CARRIED_FAILURE: _ClassVar[NodeFate]
    NODE_FATE_BLOCKED: _ClassVar[NodeFate]
    NODE_FATE_SKIPPED: _ClassVar[NodeFate]
NODE_FATE_UNSPECIFIED: NodeFate
NODE_FATE_RERUN: NodeFate
NODE_FATE_RESTORED: NodeFate
NODE_FATE_CARRIED_FAILURE: NodeFate
NODE_FATE_BLOCKED: NodeFate
NODE_FATE_SKIPPED: NodeFate

class RunWorkflowRequest(_message.Message):
    __slots__ = ("workflow_id", "inputs", "environment", "secrets", "request_id", "resume", "max_concurrency")
    class SecretsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    inputs: _struct_pb2.Struct
    environment: _run_pb2.Environment
    secrets: _containers.ScalarMap[str, str]
    request_id: str
    resume: _run_pb2.ResumeSpec
    max_concurrency: int
    def __init__(self, workflow_id: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., environment: _Optional[_Union[_run_pb2.Environment, _Mapping]] = ..., secrets: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ..., resume: _Optional[_Union[_run_pb2.ResumeSpec, _Mapping]] = ..., max_concurrency: _Optional[int] = ...) -> None: ...

class RunWorkflowResponse(_message.Message):
    __slots__ = ("accepted", "events", "finished")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    accepted: RunAccepted
    events: NodeEvents
    finished: RunFinished
    def __init__(self, accepted: _Optional[_Union[RunAccepted, _Mapping]] = ..., events: _Optional[_Union[NodeEvents, _Mapping]] = ..., finished: _Optional[_Union[RunFinished, _Mapping]] = ...) -> None: ...

class NodeEvents(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_run_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_run_pb2.Event, _Mapping]]] = ...) -> None: ...

class RunAccepted(_message.Message):
    __slots__ = ("run", "restored_node_ids", "existing")
    RUN_FIELD_NUMBER: _ClassVar[int]
    RESTORED_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    EXISTING_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    restored_node_ids: _containers.RepeatedScalarFieldContainer[str]
    existing: bool
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., restored_node_ids: _Optional[_Iterable[str]] = ..., existing: _Optional[bool] = ...) -> None: ...

class RunFinished(_message.Message):
    __slots__ = ("run", "sequence")
    RUN_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    sequence: int
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., sequence: _Optional[int] = ...) -> None: ...

class PlanResumeRequest(_message.Message):
    __slots__ = ("workflow_id", "resume", "secret_names")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAMES_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    resume: _run_pb2.ResumeSpec
    secret_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflow_id: _Optional[str] = ..., resume: _Optional[_Union[_run_pb2.ResumeSpec, _Mapping]] = ..., secret_names: _Optional[_Iterable[str]] = ...) -> None: ...

class PlannedNode(_message.Message):
    __slots__ = ("node_id", "fate", "source_run_id", "reason")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    FATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    fate: NodeFate
    source_run_id: str
    reason: str
    def __init__(self, node_id: _Optional[str] = ..., fate: _Optional[_Union[NodeFate, str]] = ..., source_run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class PlanProblem(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class PlanResumeResponse(_message.Message):
    __slots__ = ("source_run_id", "start_node_ids", "mode", "nodes", "problems", "plan_token", "workflow_version")
    SOURCE_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    START_NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    PLAN_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    source_run_id: str
    start_node_ids: _containers.RepeatedScalarFieldContainer[str]
    mode: _run_pb2.ResumeMode
    nodes: _containers.RepeatedCompositeFieldContainer[PlannedNode]
    problems: _containers.RepeatedCompositeFieldContainer[PlanProblem]
    plan_token: str
    workflow_version: int
    def __init__(self, source_run_id: _Optional[str] = ..., start_node_ids: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[_run_pb2.ResumeMode, str]] = ..., nodes: _Optional[_Iterable[_Union[PlannedNode, _Mapping]]] = ..., problems: _Optional[_Iterable[_Union[PlanProblem, _Mapping]]] = ..., plan_token: _Optional[str] = ..., workflow_version: _Optional[int] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: _run_pb2.RunStatus
    def __init__(self, status: _Optional[_Union[_run_pb2.RunStatus, str]] = ...) -> None: ...
