"""The benchmark harness keeps working: every scenario completes and produces numbers.

Only completion is checked here; speed is measured by `make bench`, never asserted in tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_scenario_and_leaves_results_untouched() -> None:
    results = ROOT / "bench" / "RESULTS.md"
    before = results.read_text() if results.exists() else None

    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    for section in (
        "0. Fresh run start (SQLite)",
        "0. Fresh run start (PostgreSQL)",
        "1. Per-node overhead",
        "2. Resume start",
        "3. Watch fan-out",
        "4. Concurrent runs",
        "5. Per-node overhead (PostgreSQL)",
    ):
        assert section in completed.stdout
    assert " - " not in completed.stdout  # a figure without samples renders as "-"
    assert (results.read_text() if results.exists() else None) == before
