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
DEMO_TIMEOUT = 90.0  # seconds; the demo takes about 5 s


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


def find_in_order(lines: list[str], prefixes: list[str]) -> list[int]:
    """The index of the first line starting with each prefix, each found after the previous one."""
    positions, start = [], 0
    for prefix in prefixes:
        found = next((i for i in range(start, len(lines)) if lines[i].startswith(prefix)), None)
        assert found is not None, f"no line starting with {prefix!r} (in order) in:\n" + "\n".join(lines)
        positions.append(found)
        start = found + 1
    return positions


def test_demo_fails_shows_the_failed_nodes_resumes_and_succeeds() -> None:
    with demo_process() as process:
        try:
            output, _ = process.communicate(timeout=DEMO_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the demo took more than {DEMO_TIMEOUT:g} s")
        assert_group_gone(process)

    assert process.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= 60, "the demo should fit one screen"
    failed_run = re.search(r"^Run (\w+) FAILED in ", output, re.MULTILINE)
    resumed_run = re.search(r"^Run (\w+) SUCCEEDED in ", output, re.MULTILINE)
    assert failed_run and resumed_run, output
    failed_id, resumed_id = failed_run.group(1), resumed_run.group(1)
    run, failed, resume, show, failed_again = find_in_order(
        lines,
        [
            "$ resumeflow run shop --env-var api=http://127.0.0.1:",
            "$ resumeflow failed shop",
            "$ resumeflow resume shop --all-failed",
            f"$ resumeflow show {resumed_id[:8]}",
            "$ resumeflow failed shop",
        ],
    )
    assert lines[run - 1] == "Applied workflow shop: version 1", output
    find_in_order(
        lines[run:failed],
        [
            "  login    SUCCEEDED",
            "  check    BLOCKED  blocked by orders (FAILED), profile (FAILED)",
            f"Run {failed_id} FAILED",
            "  failed nodes: orders, profile",
        ],
    )
    failed_rows = [line for line in lines[failed:resume] if "returned 503" in line]
    assert [row.split()[0] for row in failed_rows] == ["orders", "profile"], output
    assert lines[failed + 1] == f"Failed nodes of run {failed_id[:8]}", output
    resumed = lines[resume:show]
    find_in_order(
        resumed,
        [
            f"Run {resumed_id} of shop (version 1) resumes run {failed_id} (ALL_FAILED), from",
            "    orders, profile; restored: start, signup, login",
            "  login    RESTORED",
            f"Run {resumed_id} SUCCEEDED",
        ],
    )
    # The parallel branches finish in either order.
    assert {"  orders   SUCCEEDED", "  profile  SUCCEEDED", "  check    SUCCEEDED"} <= set(resumed), output
    shown = lines[show:failed_again]
    assert f"Resumed from  {failed_id}" in shown, output
    assert "Resume        ALL_FAILED, from orders, profile" in shown, output
    restored = [row.split()[0] for row in shown if row.endswith(f"from {failed_id[:8]}")]
    assert restored == ["start", "signup", "login"], output
    assert lines[failed_again + 1 :] == [
        "Nothing to resume: workflow shop has no unresolved failed run.",
        "",
        "demo finished: the run failed (exit status 1), was resumed (exit status 0) and SUCCEEDED",
    ], output
    assert not any(re.match(r"  \S+ +RUNNING", line) for line in lines), "RUNNING lines are left out"


def test_demo_stops_everything_it_started_when_terminated() -> None:
    with demo_process() as process:
        assert process.stdout is not None
        deadline = time.monotonic() + DEMO_TIMEOUT
        line = ""
        while not line.startswith("$ export"):  # both services and the API are up now
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "the demo did not start its services in time"
            line = process.stdout.readline()
            assert line, "the demo ended before starting its services"
        process.send_signal(signal.SIGTERM)
        assert_group_gone(process)
    assert process.returncode != 0
