"""`resumeflow` client commands through typer's runner against real services: output, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import BackgroundServices, invoke, write_workflow
from client_helpers import chain_workflow

FAIL_BOTH = ["--env-var", "fail=left", "--env-var", "fail2=right", "--input", "trail="]
FAIL_NONE = ["--env-var", "fail=", "--env-var", "fail2="]


def json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def latest_run_id(services: BackgroundServices, workflow_id: str) -> str:
    runs = json.loads(invoke(services, "runs", workflow_id, "--json", "--limit", "1").stdout)
    return str(runs[0]["id"])


# --- help -----------------------------------------------------------------------------------------

COMMAND_HELP = {
    "serve": ["--listen", "--database", "--history-address", "--auth-token", "--tls-cert"],
    "apply": ["FILE", "YAML or JSON", "--history-address", "--json"],
    "run": [
        "WORKFLOW",
        "--input",
        "--env",
        "--env-var",
        "--secret",
        "--request-id",
        "--json",
        "--runner-address",
    ],
    "failed": ["WORKFLOW", "latest unresolved failed run", "--json", "--history-address"],
    "resume": ["WORKFLOW", "--node", "--all-failed", "--from-run", "--secret", "--plan-token", "--json"],
    "plan": ["WORKFLOW", "--node", "--all-failed", "--from-run", "--secret-name", "--json"],
    "watch": ["RUN", "--after", "--json", "--history-address"],
    "runs": ["WORKFLOW", "--status", "--limit", "--json"],
    "show": ["RUN", "provenance", "--json"],
    "cancel": ["RUN", "--runner-address"],
}


@pytest.mark.parametrize("command", [pytest.param(name, id=name) for name in COMMAND_HELP])
def test_every_command_has_accurate_help(background: BackgroundServices, command: str) -> None:
    result = invoke(background, command, "--help", env={"COLUMNS": "200"})

    assert result.exit_code == 0
    for needle in COMMAND_HELP[command]:
        assert needle in result.stdout, f"{command} --help lacks {needle}"


def test_the_top_level_help_lists_every_command(background: BackgroundServices) -> None:
    result = invoke(background, "--help", env={"COLUMNS": "200"})

    assert result.exit_code == 0
    for command in COMMAND_HELP:
        assert f" {command} " in result.stdout


# --- apply ----------------------------------------------------------------------------------------


def test_apply_stores_a_version_and_says_when_nothing_changed(
    background: BackgroundServices, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path, chain_workflow("chain", 1))

    first = invoke(background, "apply", str(path))
    again = invoke(background, "apply", str(path), "--json")

    assert first.exit_code == 0 and "Applied workflow chain: version 1" in first.stdout
    document = json.loads(again.stdout)
    assert document["changed"] is False and document["workflow"]["version"] == 1


def test_apply_a_malformed_file_exits_2_listing_every_problem(
    background: BackgroundServices, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: bad\nnodes:\n  - {id: a}\n  - {type: noop, colour: red}\n")

    result = invoke(background, "apply", str(path))

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("INVALID_WORKFLOW_FILE: ") and "3 problems" in lines[0]
    assert "  - nodes[0].type: is required" in lines
    assert any(line.startswith("  - nodes[1].colour: unknown field") for line in lines)
    assert "Traceback" not in result.output


def test_apply_an_invalid_graph_exits_2_with_the_servers_violations(
    background: BackgroundServices, tmp_path: Path
) -> None:
    path = write_workflow(tmp_path, {"id": "cyclic", "nodes": [{"id": "a", "type": "noop"}], "edges": []})

    result = invoke(background, "apply", str(path))

    assert result.exit_code == 2
    assert result.stderr.startswith("INVALID_WORKFLOW: ")
    assert "start" in result.stderr and "  - " in result.stderr


def test_apply_with_more_violations_than_fit_says_how_many_more(
    background: BackgroundServices, tmp_path: Path
) -> None:
    nodes = [{"id": "start", "type": "start"}] + [{"id": f"n{i}", "type": "teleport"} for i in range(500)]
    edges = [{"source": "start", "target": f"n{i}"} for i in range(500)]
    path = write_workflow(tmp_path, {"id": "many", "nodes": nodes, "edges": edges})

    result = invoke(background, "apply", str(path))

    assert result.exit_code == 2
    listed = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert 0 < len(listed) < 500
    assert f"  … and {500 - len(listed)} more" in result.stderr.splitlines()


# --- run ------------------------------------------------------------------------------------------


def test_a_run_that_succeeds_exits_0_with_one_line_per_transition(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "run", "parallel", *FAIL_NONE, "--input", "trail=")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Run ") and lines[0].endswith("of parallel (version 1) started")
    transitions = [line.split() for line in lines if line.startswith("  ") and len(line.split()) >= 2]
    assert ["left", "RUNNING", "attempt", "1"] in transitions and ["end", "SUCCEEDED"] in transitions
    assert "SUCCEEDED in" in lines[-1]


def test_a_run_that_fails_exits_1_and_says_how_to_resume(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "run", "parallel", *FAIL_BOTH)

    assert result.exit_code == 1
    assert "  left   FAILED  TEMPLATE_ERROR" in result.stdout
    assert "  join   BLOCKED" in result.stdout
    assert "failed nodes: left, right" in result.stdout
    assert "resume with: resumeflow resume parallel --all-failed" in result.stdout


def test_run_json_prints_one_parseable_object_per_update(parallel: BackgroundServices) -> None:
    result = invoke(
        parallel, "run", "parallel", *FAIL_NONE, "--input", 'trail="x"', "--input", "n=3", "--json"
    )

    assert result.exit_code == 0
    documents = json_lines(result.stdout)
    assert [d["type"] for d in (documents[0], documents[-1])] == ["accepted", "finished"]
    assert {d["type"] for d in documents[1:-1]} == {"event"}
    assert documents[0]["run"]["inputs"] == {"trail": "x", "n": 3}  # type: ignore[index]
    assert documents[-1]["run"]["status"] == "SUCCEEDED"  # type: ignore[index]


def test_a_bad_key_value_option_is_a_usage_error(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "run", "parallel", "--input", "novalue")

    assert result.exit_code == 2 and "--input expects KEY=VALUE" in result.stderr


def test_an_unknown_workflow_exits_2_with_one_line(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "run", "nope")

    assert result.exit_code == 2
    assert result.stderr.strip() == "WORKFLOW_NOT_FOUND: workflow 'nope' does not exist"


def test_the_auth_token_option_and_variable_are_sent(sqlite_database_url: str) -> None:
    from resumeflow_core.rpc.security import Security

    guarded = BackgroundServices(sqlite_database_url, Security(auth_token="tok")).start()
    try:
        refused = invoke(guarded, "runs")
        by_option = invoke(guarded, "runs", "--auth-token", "tok")
        by_variable = invoke(guarded, "runs", env={"RESUMEFLOW_AUTH_TOKEN": "tok"})
    finally:
        guarded.stop()

    assert refused.exit_code == 2 and refused.stderr.startswith("UNAUTHENTICATED: ")
    assert by_option.exit_code == 0 and by_variable.exit_code == 0


def test_an_unreachable_service_exits_2_without_a_traceback(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "runs", "--history-address", "127.0.0.1:1", "--timeout", "5")

    assert result.exit_code == 2
    assert result.stderr.startswith("UNAVAILABLE: ")
    assert "Traceback" not in result.output


# --- failed ---------------------------------------------------------------------------------------


def test_failed_lists_the_latest_failed_runs_failed_nodes(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    run_id = latest_run_id(parallel, "parallel")

    table = invoke(parallel, "failed", "parallel")
    document = json.loads(invoke(parallel, "failed", "parallel", "--json").stdout)

    assert table.exit_code == 0 and f"run {run_id[:8]}" in table.stdout
    assert "Left branch" in table.stdout and "Right branch" in table.stdout and "no_such_name" in table.stdout
    assert document["run"]["id"] == run_id
    assert [(n["node_id"], n["label"], n["type"]) for n in document["failed_nodes"]] == [
        ("left", "Left branch", "set"),
        ("right", "Right branch", "set"),
    ]


def test_failed_says_nothing_to_resume_when_there_is_none(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_NONE, "--input", "trail=")

    result = invoke(parallel, "failed", "parallel")
    document = json.loads(invoke(parallel, "failed", "parallel", "--json").stdout)

    assert result.exit_code == 0
    assert "Nothing to resume: workflow parallel has no unresolved failed run." in result.stdout
    assert document == {"workflow_id": "parallel", "run": None, "failed_nodes": []}


# --- resume ---------------------------------------------------------------------------------------


def test_resume_reruns_the_first_failed_node_and_carries_the_other(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    source = latest_run_id(parallel, "parallel")

    result = invoke(parallel, "resume", "parallel", "--env-var", "fail=")

    assert result.exit_code == 1, result.output  # right is still failed, so join stays blocked
    assert f"resumes run {source} (SINGLE), from left; restored: start" in result.stdout
    assert "  start  RESTORED" in result.stdout and "  right  FAILED" in result.stdout
    assert "  left   SUCCEEDED" in result.stdout


def test_resume_a_named_node_from_a_named_run(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    source = latest_run_id(parallel, "parallel")

    result = invoke(
        parallel, "resume", "parallel", "--node", "right", "--from-run", source, "--env-var", "fail2="
    )

    assert result.exit_code == 1
    assert f"resumes run {source} (SINGLE), from right" in result.stdout
    assert "  right  SUCCEEDED" in result.stdout and "  left   FAILED" in result.stdout


def test_resume_all_failed_succeeds_and_exits_0(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)

    result = invoke(parallel, "resume", "parallel", "--all-failed", *FAIL_NONE)

    assert result.exit_code == 0, result.output
    assert "(ALL_FAILED)" in result.stdout and "SUCCEEDED in" in result.stdout.splitlines()[-1]
    assert "Nothing to resume" in invoke(parallel, "failed", "parallel").stdout


def test_resume_with_nothing_to_resume_exits_2(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_NONE, "--input", "trail=")

    result = invoke(parallel, "resume", "parallel")

    assert result.exit_code == 2
    assert result.stderr.startswith("NO_FAILED_RUN: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_resume_from_an_unknown_node_exits_2_listing_the_violation(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)

    result = invoke(parallel, "resume", "parallel", "--node", "ghost")

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("INVALID_RESUME: ")
    assert any(line.endswith("(UNKNOWN_NODE)") for line in lines)
    assert any("ghost" in line and line.startswith("  - resume.start_node_ids") for line in lines)


def test_resume_with_both_node_and_all_failed_is_a_usage_error(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "resume", "parallel", "--node", "left", "--all-failed")

    assert result.exit_code == 2 and "either --node ID or --all-failed" in result.stderr


def test_a_resume_missing_secrets_exits_2_naming_them_when_not_interactive(
    needs_key: BackgroundServices,
) -> None:
    result = invoke(needs_key, "resume", "needs-key", "--env-var", "fail=")

    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("MISSING_SECRET: ") and "api_key" in lines[0]
    assert "  missing secrets: api_key (pass --secret api_key=VALUE)" in lines
    assert "  node_ids: call" in lines  # the ErrorInfo metadata, for the nodes that need it


def test_a_resume_missing_secrets_prompts_for_them_with_hidden_input(needs_key: BackgroundServices) -> None:
    result = invoke(
        needs_key,
        "resume",
        "needs-key",
        "--env-var",
        "fail=",
        input="k-1\n",
        env={"RESUMEFLOW_INTERACTIVE": "1"},
    )

    assert result.exit_code == 0, result.output
    assert "Secret api_key:" in result.output
    assert "k-1" not in result.output, "hidden input is not echoed"
    assert "  call   SUCCEEDED" in result.stdout


def test_an_unanswered_secret_prompt_aborts_without_running(needs_key: BackgroundServices) -> None:
    result = invoke(
        needs_key, "resume", "needs-key", "--env-var", "fail=", input="", env={"RESUMEFLOW_INTERACTIVE": "1"}
    )

    assert result.exit_code == 130 and "Aborted." in result.stderr
    runs = json.loads(invoke(needs_key, "runs", "needs-key", "--json").stdout)
    assert len(runs) == 1, "no resume was started"


def test_a_secret_given_up_front_is_not_prompted_for(needs_key: BackgroundServices) -> None:
    result = invoke(
        needs_key,
        "resume",
        "needs-key",
        "--env-var",
        "fail=",
        "-s",
        "api_key=k-1",
        env={"RESUMEFLOW_INTERACTIVE": "1"},
    )

    assert result.exit_code == 0 and "Secret api_key" not in result.output


# --- plan -----------------------------------------------------------------------------------------


def test_plan_shows_each_nodes_fate_and_a_token(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    source = latest_run_id(parallel, "parallel")

    table = invoke(parallel, "plan", "parallel", "--node", "left")
    document = json.loads(invoke(parallel, "plan", "parallel", "--node", "left", "--json").stdout)

    assert table.exit_code == 0
    rows = table_rows(table.stdout)
    assert "restored" in rows["start"] and source[:8] in rows["start"] and source not in rows["start"]
    assert "rerun" in rows["left"] and "carried failure" in rows["right"] and "blocked" in rows["join"]
    assert "Plan token (resume --plan-token TOKEN):" in table.stdout and "\nrf1." in table.stdout
    fates = {n["node_id"]: n["fate"] for n in document["nodes"]}
    assert fates == {
        "start": "RESTORED",
        "left": "RERUN",
        "right": "CARRIED_FAILURE",
        "join": "BLOCKED",
        "end": "BLOCKED",
    }
    assert document["problems"] == [] and document["plan_token"]


def test_plan_lists_the_problems_a_resume_would_be_rejected_for(needs_key: BackgroundServices) -> None:
    without = invoke(needs_key, "plan", "needs-key")
    document = json.loads(invoke(needs_key, "plan", "needs-key", "--secret-name", "api_key", "--json").stdout)

    assert without.exit_code == 0
    assert "A resume would be rejected:" in without.stdout and "MISSING_SECRET" in without.stdout
    assert document["problems"] == []


def test_plan_with_nothing_to_resume_exits_2(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "plan", "parallel")

    assert result.exit_code == 2 and result.stderr.startswith("NO_FAILED_RUN: ")


# --- show, runs, watch ----------------------------------------------------------------------------


def test_show_has_each_nodes_status_attempts_duration_and_provenance(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    source = latest_run_id(parallel, "parallel")
    invoke(parallel, "resume", "parallel", "--env-var", "fail=")
    resumed = latest_run_id(parallel, "parallel")

    table = invoke(parallel, "show", resumed)
    document = json.loads(invoke(parallel, "show", resumed, "--json").stdout)

    assert table.exit_code == 0
    lines = [line.rstrip() for line in table.stdout.splitlines()]
    assert f"Resumed from  {source}" in lines and "Resume        SINGLE, from left" in lines
    rows = table_rows(table.stdout)
    assert "RESTORED" in rows["start"] and f"from {source[:8]}" in rows["start"]
    assert "SUCCEEDED" in rows["left"] and "this run" in rows["left"] and "Left branch" in table.stdout
    assert "FAILED" in rows["right"] and f"carried from {source[:8]}" in rows["right"]
    assert "  right: TEMPLATE_ERROR: " in table.stdout  # node errors follow the table
    results = {r["node_id"]: r for r in document["node_results"]}
    assert results["start"]["status"] == "RESTORED" and results["start"]["source_run_id"] == source
    assert results["left"]["attempts"] == 1 and document["resume_from_run_id"] == source


def test_show_an_unknown_run_exits_2(parallel: BackgroundServices) -> None:
    result = invoke(parallel, "show", "nope")

    assert result.exit_code == 2 and result.stderr.strip() == "RUN_NOT_FOUND: run 'nope' does not exist"


def test_runs_lists_newest_first_and_filters_by_status(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    invoke(parallel, "run", "parallel", *FAIL_NONE, "--input", "trail=")

    everything = json.loads(invoke(parallel, "runs", "parallel", "--json").stdout)
    failed = json.loads(invoke(parallel, "runs", "parallel", "--status", "FAILED", "--json").stdout)
    table = invoke(parallel, "runs")

    assert [run["status"] for run in everything] == ["SUCCEEDED", "FAILED"]
    assert [run["id"] for run in failed] == [everything[1]["id"]]
    assert table.exit_code == 0 and "left, right" in table.stdout
    assert everything[0]["id"][:8] in table.stdout and everything[0]["id"] not in table.stdout
    assert "No runs." in invoke(parallel, "runs", "nothing-here").stdout


def test_watch_replays_a_run_and_exits_with_its_outcome(parallel: BackgroundServices) -> None:
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    failed = latest_run_id(parallel, "parallel")
    invoke(parallel, "resume", "parallel", "--all-failed", *FAIL_NONE)
    succeeded = latest_run_id(parallel, "parallel")

    failed_watch = invoke(parallel, "watch", failed)
    succeeded_watch = invoke(parallel, "watch", succeeded)
    events = json_lines(invoke(parallel, "watch", succeeded, "--json", "--after", "2").stdout)

    assert failed_watch.exit_code == 1 and "  left   FAILED" in failed_watch.stdout
    assert succeeded_watch.exit_code == 0 and "  start  RESTORED" in succeeded_watch.stdout
    assert [e["sequence"] for e in events] == list(range(3, 3 + len(events)))
    assert events[-1]["kind"] == "RUN_FINISHED" and events[-1]["run_status"] == "SUCCEEDED"


def test_with_json_an_error_is_one_json_object_with_its_code_reason_and_details(
    parallel: BackgroundServices,
) -> None:
    unknown_run = invoke(parallel, "show", "nope", "--json")
    invoke(parallel, "run", "parallel", *FAIL_BOTH)
    unknown_node = invoke(parallel, "resume", "parallel", "--node", "ghost", "--json")

    assert unknown_run.exit_code == 2 and unknown_node.exit_code == 2
    assert json.loads(unknown_run.stdout) == {
        "error": {
            "code": "NOT_FOUND",
            "reason": "RUN_NOT_FOUND",
            "message": "run 'nope' does not exist",
            "metadata": {"run_id": "nope"},
            "violations": [],
        }
    }
    error = json.loads(unknown_node.stdout)["error"]
    assert (error["code"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_RESUME")
    assert [v["reason"] for v in error["violations"]] == ["UNKNOWN_NODE"]
    assert "ghost" in error["violations"][0]["description"] + error["violations"][0]["field"]


def table_rows(output: str) -> dict[str, str]:
    """A table's rows by their first cell (continuation lines, which start blank, are left out)."""
    return {line.split()[0]: line for line in output.splitlines() if line.strip() and not line[0].isspace()}
