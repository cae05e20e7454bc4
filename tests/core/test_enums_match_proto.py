"""The hand-numbered enums of the domain must say exactly what the proto's enums say: the services
convert between them by number, so a renumbered or missing member would be read as another one."""

from __future__ import annotations

import enum

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from resumeflow.v1 import run_pb2, runner_service_pb2
from resumeflow_core.status import EventKind, NodeStatus, ResumeMode, RunStatus
from runner_service.engine import NodeFate

PAIRS = [
    (RunStatus, run_pb2.RunStatus, "RUN_STATUS_"),
    (NodeStatus, run_pb2.NodeStatus, "NODE_STATUS_"),
    (ResumeMode, run_pb2.ResumeMode, "RESUME_MODE_"),
    (EventKind, run_pb2.EventKind, "EVENT_KIND_"),
    (NodeFate, runner_service_pb2.NodeFate, "NODE_FATE_"),
]


@pytest.mark.parametrize(("domain", "proto", "prefix"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_every_domain_member_has_the_proto_number_and_every_proto_member_a_domain_one(
    domain: type[enum.IntEnum], proto: EnumTypeWrapper, prefix: str
) -> None:
    proto_members = {name.removeprefix(prefix): number for name, number in proto.items()}
    domain_members = {member.name: int(member) for member in domain}
    # NodeFate has no UNSPECIFIED member: the engine never leaves a node's fate open.
    proto_members = {name: n for name, n in proto_members.items() if name in domain_members or n != 0}

    assert domain_members == proto_members
