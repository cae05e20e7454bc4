"""What the operator decides for every http node of a runner: the response cap and the destination policy."""

from __future__ import annotations

from dataclasses import dataclass, field

from resumeflow_core.limits import DEFAULT_MAX_RESPONSE_BYTES
from resumeflow_core.nodes.destinations import DestinationPolicy


@dataclass(frozen=True)
class HttpSettings:
    """Runner-wide http settings, from `resumeflow serve` options down to each node call."""

    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The cap on a decoded response body (`--http-max-response-bytes`); nodes may ask for less."""
    policy: DestinationPolicy = field(default_factory=DestinationPolicy)
    """Which destinations the runner's http client may connect to (`--http-allow` / `--http-deny`)."""
