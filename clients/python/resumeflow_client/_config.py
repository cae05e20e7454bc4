"""Connection defaults and the reconnect policy of streams."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_RUNNER_ADDRESS = "127.0.0.1:50051"
DEFAULT_HISTORY_ADDRESS = "127.0.0.1:50052"
DEFAULT_TIMEOUT = 30.0  # seconds for each unary call; streams have no deadline
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest message sent or accepted: the services' own limit (resumeflow_core/limits.py, copied
because the client stands alone; a test pins the two together)."""

# Keep-alives notice a dead peer on long RunWorkflow / WatchRun streams; gRPC's own reconnect
# backoff (1 s, growing to 120 s) is shortened so a restarted service is found again quickly.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
)


@dataclass(frozen=True)
class RetryConfig:
    """How a stream that dropped is reopened: bounded exponential backoff.

    Applies to `Client.watch` and to run handles that fall back to watching. The attempt count
    starts again after every event received, so only a service that stays away ends the stream.
    """

    initial_backoff: float = 0.1
    """Seconds before the first reconnect."""
    backoff_multiplier: float = 2.0
    """Factor applied to each further wait."""
    max_backoff: float = 2.0
    """The longest wait between two reconnects, in seconds."""
    max_attempts: int = 10
    """Reconnects in a row without receiving an event before the error is raised."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect number `attempt` (counted from 0)."""
        return float(min(self.max_backoff, self.initial_backoff * self.backoff_multiplier**attempt))
