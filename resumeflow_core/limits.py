"""Size limits shared by the services and the clients, set once here so every side agrees."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest gRPC message any side sends or accepts (servers, the runner's history channel and
the clients). A writer that could exceed it splits its message (the runner's event batches)."""

DEFAULT_MAX_NODE_OUTPUT_BYTES = 1024 * 1024
"""A node's output plus the variables it writes, serialized, beyond which it fails
OUTPUT_TOO_LARGE (`--max-node-output-bytes`). Far below MAX_MESSAGE_BYTES, so one node's result
always fits in one message."""

DEFAULT_LEASE_SECONDS = 30.0
"""How long a run's lease lasts without a heartbeat when the runner names no length
(`--lease-seconds` on the runner; the history keeps what each runner asks for)."""
