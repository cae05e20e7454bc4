"""What people read: every command's output at 80 and 120 columns, short run ids that work as
arguments, and the messages of edge cases (an invalid plan, a resume of a cancelled run)."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import BackgroundServices, invoke

from resumeflow.v1 import run_pb2
from resumeflow_cli.live import describe_accepted
from resumeflow_client import RunAccepted
from resumeflow_client._models import Run

FAIL_BOTH = ["--env-var", "fail=left", "--env-var", "fail2=right", "--input", "trail="]
STATUSES = ("SUCCEEDED", "FAILED", "RESTORED", "BLOCKED", "CANCELLED", "RUNNING", "PENDING", "SKIPPED")


def _runs(parallel: BackgroundServices) -> list[dict[str, object]]:
    return json.loads(invoke(parallel, "runs", "parallel", "--json").stdout)  # type: ignore[no-any-return]


def _check_layout(output: str, columns: int, headers: list[str]) -> None:
    lines = output.splitlines()
    # A plan token is one piece to copy whole, on a line of its own: the only line allowed longer.
    assert all(len(line) <= columns or line.startswith("rf1.") for line in lines), "\n".join(lines)
    text = "\n".join(lines)
    for header in headers:  # headers are never cut inside a word
        assert all(re.search(rf"(^|\s){re.escape(word)}(\s|$)", text, re.M) for word in header.split()), (
            header
        )
    for word in re.findall(r"\b[A-Z]{4,}\b", text):  # a status is never folded: no partial words
        assert word in STATUSES or not any(status.startswith(word) for status in STATUSES), word


@pytest.mark.parametrize("columns", [80, 120])
def test_runs_show_failed_and_plan_read_well_at_80_and_120_columns(
    parallel: BackgroundServices, columns: int
) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    invoke(parallel, "resume", "parallel", "--env-var", "fail=")
    env = {"COLUMNS": str(columns)}
    newest, oldest = (str(run["id"]) for run in _runs(parallel))

    runs = invoke(parallel, "runs", env=env).stdout
    show = invoke(parallel, "show", newest, env=env).stdout
    failed = invoke(parallel, "failed", "parallel", env=env).stdout
    plan = invoke(parallel, "plan", "parallel", "--all-failed", env=env).stdout

    _check_layout(runs, columns, ["Run", "Workflow", "Status", "Created", "From run", "Failed nodes"])
    _check_layout(show, columns, ["Node", "Type", "Status", "Tries", "Took", "Provenance"])
    _check_layout(failed, columns, ["Node", "Label", "Type", "Error"])
    _check_layout(plan, columns, ["Node", "Fate", "From run", "Reason"])
    # Tables show short ids; `show` is where the full ones are.
    assert newest[:8] in runs and oldest[:8] in runs and newest not in runs and oldest not in runs
    assert f"from {oldest[:8]}" in show and newest in show and oldest in show
    assert f"Failed nodes of run {newest[:8]}" in failed and newest not in plan


def test_a_unique_prefix_names_a_run_wherever_the_cli_takes_one(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    run_id = str(_runs(parallel)[0]["id"])

    shown = json.loads(invoke(parallel, "show", run_id[:6], "--json").stdout)
    watched = invoke(parallel, "watch", run_id[:7].upper())
    planned = json.loads(invoke(parallel, "plan", "parallel", "--from-run", run_id[:10], "--json").stdout)
    cancelled = invoke(parallel, "cancel", run_id[:8])
    resumed = invoke(
        parallel, "resume", "parallel", "--from-run", run_id[:9], "--all-failed", "--env-var", "fail="
    )

    assert shown["id"] == run_id
    assert watched.exit_code == 1 and f"Watching run {run_id}" in watched.stdout
    assert planned["source_run_id"] == run_id
    assert cancelled.exit_code == 2 and cancelled.stderr.startswith("RUN_FINISHED: "), cancelled.stderr
    assert f"resumes run {run_id} (ALL_FAILED)" in resumed.stdout


def test_a_prefix_no_run_has_is_run_not_found(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "show", "ffffffff", "--json")

    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["reason"] == "RUN_NOT_FOUND"


def test_a_plan_of_an_invalid_request_says_so_first_and_exits_2(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)

    result = invoke(parallel, "plan", "parallel", "--node", "ghost")

    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0] == "The resume request is invalid:"
    assert lines[1].startswith("  INVALID_RESUME: ") and "ghost" in result.stdout
    assert "Fate" not in result.stdout, "no plan table for a request that cannot run"


def test_a_resume_of_a_cancelled_run_says_it_reruns_what_did_not_finish() -> None:
    message = run_pb2.Run(
        id="b" * 32,
        workflow_id="slow",
        workflow_version=1,
        resume_from_run_id="a" * 32,
        resume_mode=run_pb2.RESUME_MODE_SINGLE,
    )
    accepted = RunAccepted(Run._from_proto(message), (), False, None)  # type: ignore[arg-type]

    line = describe_accepted(accepted)

    assert line == (
        f"Run {'b' * 32} of slow (version 1) resumes run {'a' * 32} (SINGLE), "
        "re-running the nodes that did not finish"
    )
    assert "from -" not in line


def test_an_error_reads_well_at_80_columns_and_stays_whole_in_pipes(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)

    narrow = invoke(parallel, "resume", "parallel", "--node", "ghost", env={"COLUMNS": "80"}).stderr
    piped = invoke(parallel, "resume", "parallel", "--node", "ghost").stderr

    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    assert narrow.startswith("INVALID_RESUME: ") and "(UNKNOWN_NODE)" in narrow
    assert any(
        line.startswith("  - resume.start_node_ids[0]") and line.endswith("(UNKNOWN_NODE)")
        for line in piped.splitlines()
    )
