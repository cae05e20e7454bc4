"""Fixtures of the CLI tests: the services running in the background, with workflows applied."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from cli_helpers import BackgroundServices, invoke, write_workflow
from client_helpers import parallel_workflow, secret_workflow


@pytest.fixture
def background(sqlite_database_url: str) -> Iterator[BackgroundServices]:
    services = BackgroundServices(sqlite_database_url).start()
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture
def parallel(background: BackgroundServices, tmp_path: Path) -> BackgroundServices:
    """`parallel` applied: start → (left, right) → join → end; env fail/fail2 choose the failing branches."""
    assert invoke(background, "apply", str(write_workflow(tmp_path, parallel_workflow()))).exit_code == 0
    return background


@pytest.fixture
def needs_key(background: BackgroundServices, tmp_path: Path) -> BackgroundServices:
    """`needs-key` applied, with a failed run whose failed node needs `secrets.api_key`."""
    assert invoke(background, "apply", str(write_workflow(tmp_path, secret_workflow()))).exit_code == 0
    failed = invoke(background, "run", "needs-key", "--secret", "api_key=k-1", "--env-var", "fail=call")
    assert failed.exit_code == 1, failed.output
    return background
