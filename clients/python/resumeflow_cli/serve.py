"""Starting the services from the command line: both in one process, or one of them."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import logging
import os
import secrets
import signal
from dataclasses import dataclass, field, replace
from pathlib import Path

from history_service.server import HistoryServer, start_history_server
from resumeflow_core.errors import InvalidArgumentError
from resumeflow_core.limits import DEFAULT_LEASE_SECONDS, DEFAULT_MAX_NODE_OUTPUT_BYTES
from resumeflow_core.nodes.http_settings import HttpSettings
from resumeflow_core.rpc.security import Security
from runner_service.runner import DEFAULT_MAX_ACTIVE_RUNS, DEFAULT_SHUTDOWN_GRACE
from runner_service.server import RunnerServer, start_runner_server

log = logging.getLogger("resumeflow")
FORCED_EXIT_CODE = 1  # a second SIGINT/SIGTERM cut the graceful shutdown short


class Which(enum.StrEnum):
    ALL = "all"
    HISTORY = "history"
    RUNNER = "runner"


@dataclass(frozen=True)
class ServeOptions:
    which: Which
    listen: str
    history_address: str
    database_url: str
    security: Security
    history_security: Security
    max_active_runs: int = DEFAULT_MAX_ACTIVE_RUNS
    runner_token: str = ""
    """What history requires of the runner-facing writes and the runner sends (see `_runner_token`)."""
    http_settings: HttpSettings = field(default_factory=HttpSettings)
    max_node_output_bytes: int = DEFAULT_MAX_NODE_OUTPUT_BYTES
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE
    lease_seconds: float = DEFAULT_LEASE_SECONDS


async def serve(options: ServeOptions) -> None:
    """Start the chosen services and run until SIGINT or SIGTERM, then stop them gracefully: the
    runner first (its runs' ends are recorded through the history), then the history."""
    history: HistoryServer | None = None
    runner: RunnerServer | None = None
    runner_token = _runner_token(options)
    try:
        if options.which in (Which.ALL, Which.HISTORY):
            history_address = options.listen if options.which == Which.HISTORY else options.history_address
            history = await start_history_server(
                history_address,
                options.database_url,
                security=replace(options.security, runner_token=runner_token),
                shutdown_grace=options.shutdown_grace,
            )
            history_address = bound(history_address, history.port)  # port 0 picks a free one
            log.info(
                "history service listening on %s (database %s)",
                history_address,
                _safe_url(options.database_url),
            )
        if options.which in (Which.ALL, Which.RUNNER):
            # With both in one process the runner calls the history where it really listens.
            history_target = history_address if history is not None else options.history_address
            runner = await start_runner_server(
                options.listen,
                history_target,
                security=options.security,
                history_security=replace(options.history_security, runner_token=runner_token),
                max_active_runs=options.max_active_runs,
                http_settings=options.http_settings,
                max_node_output_bytes=options.max_node_output_bytes,
                shutdown_grace=options.shutdown_grace,
                lease_seconds=options.lease_seconds,
            )
            log.info(
                "runner service listening on %s (history at %s)",
                bound(options.listen, runner.port),
                history_target,
            )
        _freeze_startup_objects()
        await _wait_for_signal()
    finally:
        if runner is not None:
            await runner.stop()
        if history is not None:
            await history.stop()


def bound(address: str, port: int) -> str:
    """`address` with the port the server really bound (what `--listen HOST:0` asked to choose)."""
    host, _, _ = address.rpartition(":")
    return f"{host}:{port}"


def _runner_token(options: ServeOptions) -> str:
    """The runner credential: as given; with `all` and client auth but none given, a random one,
    since the runner and the history that need it share this process.

    Raises:
        InvalidArgumentError: The runner token is the client token, which would let clients write.
    """
    token = options.runner_token
    if token and token == options.security.auth_token:
        raise InvalidArgumentError("--runner-token must differ from --auth-token: clients hold that one")
    if not token and options.which == Which.ALL and options.security.auth_token:
        token = secrets.token_urlsafe(32)
    return token


def read_token(token: str, path: str, option: str) -> str:
    """A token given as a value or as the path of a file holding it (which keeps it out of `ps`).

    Raises:
        InvalidArgumentError: Both were given, or the file cannot be read or is empty.
    """
    if not path:
        return token
    if token:
        raise InvalidArgumentError(f"give {option} or {option}-file, not both")
    try:
        read = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"cannot read {option}-file {path}: {error}") from error
    if not read:
        raise InvalidArgumentError(f"{option}-file {path} is empty")
    return read


def _freeze_startup_objects() -> None:
    """Leave what start-up built (modules, descriptors, SQLAlchemy metadata…) out of the garbage
    collector's full passes, which otherwise rescan it all: measured under `make bench`, the
    services' full collections took less than half the time (pauses of 40-65 ms became rarer)."""
    gc.collect()
    gc.freeze()


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down gracefully; signal again to stop at once")
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, _stop_at_once)


def _stop_at_once() -> None:
    """A second signal: the operator will not wait for the grace. Exits without recording what
    is unfinished; those runs become RUNNER_LOST by lease expiry, as after a crash."""
    log.warning("second signal: stopping at once; unrecorded runs are left to lease expiry")
    logging.shutdown()
    os._exit(FORCED_EXIT_CODE)


def _safe_url(url: str) -> str:
    """The database URL without its password, for logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
