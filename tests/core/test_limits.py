"""The size limits: one message size for every side, and how a node's result is measured."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from resumeflow_client import _config as client_config
from resumeflow_core.limits import DEFAULT_MAX_NODE_OUTPUT_BYTES, MAX_MESSAGE_BYTES, serialized_size
from resumeflow_core.rpc.security import CHANNEL_OPTIONS
from resumeflow_core.rpc.server import SERVER_OPTIONS

NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node" / "resumeflow.js"
SIZE_OPTIONS = {
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
}


def test_servers_and_the_runners_history_channel_send_and_accept_the_same_size() -> None:
    assert set(SERVER_OPTIONS) >= SIZE_OPTIONS
    assert set(CHANNEL_OPTIONS) >= SIZE_OPTIONS


def test_the_python_client_copies_the_services_message_size() -> None:
    assert client_config.MAX_MESSAGE_BYTES == MAX_MESSAGE_BYTES
    assert set(client_config.CHANNEL_OPTIONS) >= SIZE_OPTIONS


def test_the_node_client_copies_the_services_message_size() -> None:
    source = NODE_CLIENT.read_text()
    found = re.search(r"const MAX_MESSAGE_BYTES = ([\d *]+);", source)
    assert found is not None, "clients/node/resumeflow.js defines no MAX_MESSAGE_BYTES"
    product = 1
    for factor in found.group(1).split("*"):
        product *= int(factor)
    assert product == MAX_MESSAGE_BYTES
    assert "'grpc.max_receive_message_length': MAX_MESSAGE_BYTES" in source
    assert "'grpc.max_send_message_length': MAX_MESSAGE_BYTES" in source


def test_a_node_result_at_the_limit_always_fits_in_one_message() -> None:
    assert DEFAULT_MAX_NODE_OUTPUT_BYTES * 4 <= MAX_MESSAGE_BYTES


@pytest.mark.parametrize(
    ("value", "size"),
    [
        pytest.param(None, 4, id="null"),
        pytest.param({"a": [1, 2]}, 11, id="compact-json"),
        pytest.param("é", 4, id="utf-8-bytes"),
    ],
)
def test_serialized_size_counts_compact_utf8_json_bytes(value: object, size: int) -> None:
    assert serialized_size(value) == size
