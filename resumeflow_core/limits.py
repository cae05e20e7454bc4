"""Size limits shared by the services and the clients, set once here so every side agrees."""

from __future__ import annotations

import json
from typing import Any

from resumeflow_core.reasons import TOO_LONG

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

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
"""The largest decoded body an http node reads (`--http-max-response-bytes`); a node may set a
lower `max_response_bytes`. Beyond it the node fails RESPONSE_TOO_LARGE."""

MAX_ID_LENGTH = 200
"""The longest id (of a workflow, run, node, runner or request) a request may carry: every
database index holds it (PostgreSQL's B-tree entries end near 2.7 kB, 4 bytes a character)."""

MAX_STORED_INT = 2**31 - 1
"""The largest version, event sequence or count: the databases store them as 32-bit INTEGER."""

MAX_LEASE_SECONDS = 24 * 3600.0
"""The longest run lease a runner may ask for; a lost runner's runs fail within it."""


def id_problem(value: str) -> tuple[str, str] | None:
    """What makes `value` unusable as an id, as (description, reason); None when nothing does."""
    if len(value) > MAX_ID_LENGTH:
        return f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}", TOO_LONG
    return text_problem(value)


def text_problem(value: str) -> tuple[str, str] | None:
    """What keeps `value` out of a text column (PostgreSQL refuses NUL); None when nothing does."""
    if "\x00" in value:
        return "must not contain NUL characters", "INVALID_CHARACTER"
    return None


def serialized_size(value: Any) -> int:
    """The bytes `value` takes as compact UTF-8 JSON, about what it takes stored or sent.

    Raises:
        ValueError: `value` holds a reference cycle.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode())


MAX_TEMPLATE_VALUE_CHARS = 1024 * 1024
"""The largest value a template may compute or render, in characters (about its JSON length):
every intermediate result of an operator, filter or call, and a template's whole output. Checked
before the value is built wherever it could be large (`'a' * n`, `s.ljust(n)`, `'%0*d'`)."""

MAX_TEMPLATE_INTEGER_BITS = 4096
"""The largest integer a template may compute (`9 ** 9 ** 9` is refused before it is computed)."""

MAX_TEMPLATE_ITEMS = 100_000
"""The longest `range()` a template may make, and the most items `sort`/`unique`/`groupby` take."""

MAX_TEMPLATE_NESTING = 64
"""How deep a value a template computes may nest lists and mappings."""

MAX_TEMPLATE_SECONDS = 0.05
"""The time one node attempt may spend evaluating its templates. Templates run on the event
loop, so this also bounds how long one node can hold it (the health check stays answered)."""
