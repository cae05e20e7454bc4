"""Retrying the runner's writes to the history service: which failures are worth another attempt,
and capped exponential backoff with jitter between attempts, for as long as the run lives."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from resumeflow_core.errors import ResumeflowError, UnavailableError
from resumeflow_core.reasons import INTERNAL, UNKNOWN

log = logging.getLogger(__name__)

T = TypeVar("T")

INITIAL_DELAY = 0.05  # seconds before the second attempt
MAX_DELAY = 1.0  # seconds: the longest wait between attempts, so a returning history is used soon
MULTIPLIER = 2.0
JITTER = 0.2  # each delay is drawn from ±20% around its nominal value
LOG_EVERY = 30.0  # seconds between warnings about the same call still failing

_TRANSIENT_REASONS = frozenset({INTERNAL, UNKNOWN})
"""Reasons of the base error (gRPC codes with no domain class) that a retry may cure: a database
hiccup behind the history, or a history process being killed mid-call."""


def is_transient(error: BaseException) -> bool:
    """True when another attempt may succeed: the history is unreachable, timed out, restarting.

    Everything else is a definitive answer (LEASE_LOST, RUN_FINISHED, an invalid request, a wrong
    token, a message too large) that retrying would only repeat.
    """
    if isinstance(error, OSError | UnavailableError):
        return True
    return type(error) is ResumeflowError and error.reason in _TRANSIENT_REASONS


@dataclass
class Backoff:
    """Delays between attempts: exponential from `initial` up to `maximum`, with jitter."""

    initial: float = INITIAL_DELAY
    maximum: float = MAX_DELAY
    multiplier: float = MULTIPLIER
    jitter: float = JITTER
    _next: float = 0.0

    def next_delay(self) -> float:
        nominal = min(self._next or self.initial, self.maximum)
        self._next = nominal * self.multiplier
        return nominal * random.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self._next = 0.0


async def until_done(call: Callable[[], Awaitable[T]], what: str, backoff: Backoff | None = None) -> T:
    """Await `call()` until it returns, retrying transient failures with backoff, without limit.

    Args:
        call: One attempt.
        what: Names the call in warnings ("writing 12 events of run r1").
        backoff: The delays between attempts (default: `Backoff()`).

    Raises:
        Whatever an attempt raises that `is_transient` calls definitive.
    """
    backoff = backoff or Backoff()
    first_failure = last_warning = 0.0
    while True:
        try:
            result = await call()
        except Exception as error:
            if not is_transient(error):
                raise
            now = time.monotonic()
            if not first_failure:
                first_failure = now
            if now - last_warning >= LOG_EVERY:
                last_warning = now
                log.warning("%s failed (%s); retrying for as long as it takes", what, error)
            await asyncio.sleep(backoff.next_delay())
        else:
            if first_failure:
                log.warning("%s succeeded after %.1fs of retries", what, time.monotonic() - first_failure)
            return result
