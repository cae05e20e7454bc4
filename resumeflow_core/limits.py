"""Size limits shared by the services and the clients, set once here so every side agrees."""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest gRPC message any side sends or accepts (servers, the runner's history channel and
the clients). A writer that could exceed it splits its message (the runner's event batches)."""

DEFAULT_MAX_NODE_OUTPUT_BYTES = 1024 * 1024
"""A node's output plus the variables it writes, serialized, beyond which it fails
OUTPUT_TOO_LARGE (`--max-node-output-bytes`). Far below MAX_MESSAGE_BYTES, so one node's result
always fits in one message."""


def serialized_size(value: Any) -> int:
    """The bytes `value` takes as compact UTF-8 JSON, about what it takes stored or sent.

    Raises:
        ValueError: `value` holds a reference cycle.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode())
