"""`make demo` end to end: examples/demo.py as a newcomer runs it, in bounded time, leaving nothing behind."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
DEMO_TIMEOUT = 90.0  # seconds; the demo takes about 2 s


@contextmanager
def demo_process() -> Iterator[subprocess.Popen[str]]:
    """The demo in a process group of its own, killed whole if the test fails or times out."""
    process = subprocess.Popen(
        [sys.executable, str(DEMO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()


def group_alive(pgid: int) -> bool:
    """True while any process of the group lives (zombies of the group leader included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_group_gone(process: subprocess.Popen[str]) -> None:
    """Every process the demo started has been stopped once it exits."""
    process.wait(timeout=DEMO_TIMEOUT)
    deadline = time.monotonic() + 10
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(process.pid), "the demo left processes behind"


def test_demo_fails_shows_the_failed_nodes_resumes_and_succeeds() -> None:
    with demo_process() as process:
        try:
            output, _ = process.communicate(timeout=DEMO_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the demo took more than {DEMO_TIMEOUT:g} s")
        assert_group_gone(process)

    assert process.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= 45, "the demo should fit one screen"
    first = re.search(r"^  run (\w+) FAILED \(failed: orders, profile\)$", output, re.MULTILINE)
    assert first, output
    run_id = first.group(1)
    in_order = [
        "1. apply examples/shop.yaml",
        "  workflow shop v1: 8 nodes",
        "2. run shop   (profile and orders fail their first call)",
        "    login    SUCCEEDED",
        "    join     BLOCKED",
        f"  run {run_id} FAILED (failed: orders, profile)",
        "3. failed shop",
        f"  latest failed run {run_id}:",
        "4. resume shop --all-failed",
        f"    restored from run {run_id}: start, signup, login",
        "    check    SUCCEEDED",
        "  summary: Ada Lovelace (u-1) has 2 orders",
        "5. failed shop",
        "  nothing to resume (NO_FAILED_RUN)",
        "demo finished: the run failed, was resumed and SUCCEEDED",
    ]
    positions = [lines.index(line) for line in in_order]  # ValueError names a missing line
    assert positions == sorted(positions), output
    failed_nodes = lines[lines.index("3. failed shop") + 2 : lines.index("4. resume shop --all-failed") - 1]
    assert [line.split()[0] for line in failed_nodes] == ["orders", "profile"], output
    assert all("returned 503" in line for line in failed_nodes), output
    resumed = lines[lines.index("4. resume shop --all-failed") : lines.index("5. failed shop")]
    # The parallel branches finish in either order.
    assert {"    orders   SUCCEEDED", "    profile  SUCCEEDED"} <= set(resumed), output
    assert any(re.fullmatch(r"  run \w+ SUCCEEDED", line) for line in resumed), output


def test_demo_stops_everything_it_started_when_terminated() -> None:
    with demo_process() as process:
        assert process.stdout is not None
        deadline = time.monotonic() + DEMO_TIMEOUT
        line = ""
        while not line.startswith("shop API:"):  # both services and the API are up now
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "the demo did not start its services in time"
            line = process.stdout.readline()
            assert line, "the demo ended before starting its services"
        process.send_signal(signal.SIGTERM)
        assert_group_gone(process)
    assert process.returncode != 0
