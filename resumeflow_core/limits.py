"""Size limits shared by the services and the clients, set once here so every side agrees."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest gRPC message any side sends or accepts (servers, the runner's history channel and
the clients). A writer that could exceed it splits its message (the runner's event batches)."""

DEFAULT_MAX_NODE_OUTPUT_BYTES = 1024 * 1024
"""A node's output plus the variables it writes, serialized, beyond which it fails
OUTPUT_TOO_LARGE (`--max-node-output-bytes`). Far below MAX_MESSAGE_BYTES, so one node's result
always fits in one message."""

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
