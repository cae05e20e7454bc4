"""Helpers of the CLI tests: services on a background event loop, and invoking `resumeflow` in-process."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml
from typer.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from integration_helpers import Services, start_services, stop_services

from resumeflow_cli.main import app

T = TypeVar("T")
CALL_TIMEOUT = 30.0  # seconds for starting or stopping the services


class BackgroundServices:
    """Both services on an event loop of their own thread.

    The CLI runs `asyncio.run` in the calling thread, so the services cannot share its loop.
    """

    def __init__(self, database_url: str, security: Any = None) -> None:
        self._database_url = database_url
        self._security = security
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="services", daemon=True)
        self.services: Services | None = None

    def start(self) -> BackgroundServices:
        self._thread.start()
        self.services = self.call(start_services(self._database_url, self._security))
        return self

    def stop(self) -> None:
        try:
            if self.services is not None:
                self.call(stop_services(self.services))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CALL_TIMEOUT)
            self._loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the services' loop and wait for it."""
        return self.submit(coroutine).result(CALL_TIMEOUT)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coroutine` on the services' loop without waiting."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    @property
    def env(self) -> dict[str, str]:
        """The environment that points the CLI at these services, non-interactive unless overridden."""
        assert self.services is not None
        return {
            "RESUMEFLOW_RUNNER_ADDRESS": f"127.0.0.1:{self.services.runner_server.port}",
            "RESUMEFLOW_HISTORY_ADDRESS": f"127.0.0.1:{self.services.history_server.port}",
            "RESUMEFLOW_INTERACTIVE": "0",
        }


def invoke(
    services: BackgroundServices, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> Result:
    """Run `resumeflow ARGS…` in-process against `services`; unexpected exceptions fail the test."""
    result = CliRunner().invoke(app, list(args), input=input, env={**services.env, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"resumeflow {' '.join(args)} crashed:\n{result.output}") from result.exception
    return result


def write_workflow(directory: Path, definition: dict[str, Any], name: str = "") -> Path:
    path = directory / (name or f"{definition['id']}.yaml")
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path
