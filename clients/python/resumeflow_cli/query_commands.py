"""Commands that store workflows or read what the services know: `apply`, `failed`, `plan`, `runs`, `show`.

They exit 0 when they answered (also "nothing to resume" and a plan with problems) and 2 for bad
usage or a rejected request. `--json` prints one JSON document for scripts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from resumeflow_cli.options import (
    AllFailed,
    AuthToken,
    FromRun,
    HistoryAddress,
    JsonOutput,
    NodeOption,
    PinVersion,
    RerunChanged,
    RunArgument,
    RunnerAddress,
    StatusChoice,
    Timeout,
    Tls,
    TlsCa,
    WorkflowArgument,
)
from resumeflow_cli.render import (
    failed_table,
    make_console,
    node_errors,
    node_results_table,
    plan_table,
    print_json,
    run_summary,
    runs_table,
)
from resumeflow_cli.session import (
    EXIT_OK,
    EXIT_USAGE,
    ClientOptions,
    full_run_id,
    run_client_command,
    usage_error,
    workflow_of,
)
from resumeflow_client import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    NoFailedRunError,
    Reason,
    Run,
    RunStatus,
    load_workflow,
)

DEFAULT_RUNS_LIMIT = 20


def apply_command(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="A workflow definition in YAML or JSON.", show_default=False),
    ],
    json_output: JsonOutput = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Store a workflow definition (YAML or JSON) as its next version."""
    options = ClientOptions.from_cli(
        history_address=history_address, auth_token=auth_token, tls=tls, tls_ca=tls_ca, timeout=timeout
    )
    run_client_command(_apply(options, file, json_output), json_output=json_output)


async def _apply(options: ClientOptions, file: Path, json_output: bool) -> int:
    workflow = load_workflow(file)
    async with await options.connect() as client:
        applied = await client.apply_workflow(workflow)
    if json_output:
        print_json({"workflow": applied.workflow, "changed": applied.changed})
    elif applied.changed:
        make_console().print(f"Applied workflow {applied.workflow.id}: version {applied.workflow.version}")
    else:
        make_console().print(
            f"Workflow {applied.workflow.id} unchanged at version {applied.workflow.version}"
        )
    return EXIT_OK


def failed_command(
    workflow: WorkflowArgument,
    json_output: JsonOutput = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Show the workflow's latest unresolved failed run and its failed nodes: what `resume` would pick.

    Prints "Nothing to resume" (JSON: "run": null) and exits 0 when there is none.
    """
    options = ClientOptions.from_cli(
        history_address=history_address, auth_token=auth_token, tls=tls, tls_ca=tls_ca, timeout=timeout
    )
    run_client_command(_failed(options, workflow, json_output), json_output=json_output)


async def _failed(options: ClientOptions, workflow_id: str, json_output: bool) -> int:
    async with await options.connect() as client:
        try:
            latest = await client.latest_failed(workflow_id)
        except NoFailedRunError:
            if json_output:
                print_json({"workflow_id": workflow_id, "run": None, "failed_nodes": []})
            else:
                make_console().print(
                    f"Nothing to resume: workflow {workflow_id} has no unresolved failed run."
                )
            return EXIT_OK
    if json_output:
        print_json({"workflow_id": workflow_id, "run": latest.run, "failed_nodes": latest.failed_nodes})
        return EXIT_OK
    console = make_console()
    console.print(failed_table(latest))  # each failed node's error: the run's summary would repeat them
    hint = f"resumeflow resume {workflow_id}"
    if len(latest.failed_nodes) > 1:
        hint += f"   (all of them: {hint} --all-failed)"
    console.print(f"Resume with: {hint}", markup=False)
    return EXIT_OK


def plan_command(
    workflow: WorkflowArgument,
    node: NodeOption = None,
    all_failed: AllFailed = False,
    from_run: FromRun = None,
    secret_names: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-name",
            metavar="NAME",
            help="A secret the real resume would be given (only its name). Repeatable.",
            show_default=False,
        ),
    ] = None,
    rerun_changed: RerunChanged = False,
    pin_version: PinVersion = False,
    json_output: JsonOutput = False,
    runner_address: RunnerAddress = DEFAULT_RUNNER_ADDRESS,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Show what a resume would do without running it: each node re-run, restored, carried or blocked.

    Also lists the problems a real resume would be rejected for, and a plan token for
    `resumeflow resume --plan-token`. Exits 0 when it answered (even with problems), 2 when the
    request is invalid (an unknown node) or rejected.
    """
    if node is not None and all_failed:
        usage_error("give either --node ID or --all-failed, not both")
    options = ClientOptions.from_cli(
        runner_address=runner_address,
        history_address=history_address,  # a --from-run prefix is resolved there
        auth_token=auth_token,
        tls=tls,
        tls_ca=tls_ca,
        timeout=timeout,
    )
    plan: dict[str, Any] = {
        "node_id": node,
        "all_failed": all_failed,
        "from_run": from_run,
        "secret_names": secret_names or [],
        "rerun_changed_nodes": rerun_changed,
        "pin_source_version": pin_version,
    }
    run_client_command(_plan(options, workflow, plan, json_output), json_output=json_output)


INVALID_REQUEST_REASONS = frozenset({Reason.INVALID_RESUME, Reason.INVALID_ARGUMENT})


async def _plan(
    options: ClientOptions, workflow_id: str, arguments: dict[str, Any], json_output: bool
) -> int:
    async with await options.connect() as client:
        if arguments.get("from_run"):
            arguments = {**arguments, "from_run": await full_run_id(client, arguments["from_run"])}
        plan = await client.plan_resume(workflow_id, **arguments)
    # A plan of an invalid request (an unknown node, say) means nothing: say so first, and fail.
    invalid = [problem for problem in plan.problems if problem.reason in INVALID_REQUEST_REASONS]
    if json_output:
        print_json(plan)
        return EXIT_USAGE if invalid else EXIT_OK
    console = make_console()
    if invalid:
        console.print("[bold red]The resume request is invalid:[/]")
        for problem in invalid:
            console.print(f"  {problem.reason}: {problem.message}", markup=False)
        return EXIT_USAGE
    console.print(plan_table(plan))
    if plan.problems:
        console.print("[bold red]A resume would be rejected:[/]")
        for problem in plan.problems:
            console.print(f"  {problem.reason}: {problem.message}", markup=False)
    else:
        console.print(f"Start nodes: {', '.join(plan.start_node_ids) or '-'}")
        console.print("Plan token (resume --plan-token TOKEN):")
        console.print(plan.plan_token, markup=False, soft_wrap=True)  # one piece, to copy whole
    return EXIT_OK


def runs_command(
    workflow: Annotated[
        str,
        typer.Argument(
            metavar="WORKFLOW",
            help="Only this workflow's runs; all workflows when omitted.",
            show_default=False,
        ),
    ] = "",
    statuses: Annotated[
        list[StatusChoice] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only runs in this status: queued, running, succeeded, failed or cancelled. Repeatable.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="The most runs to list.", min=1)] = DEFAULT_RUNS_LIMIT,
    json_output: JsonOutput = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """List runs, newest first."""
    options = ClientOptions.from_cli(
        history_address=history_address, auth_token=auth_token, tls=tls, tls_ca=tls_ca, timeout=timeout
    )
    wanted = [RunStatus[status.name] for status in statuses or ()]
    run_client_command(_runs(options, workflow, wanted, limit, json_output), json_output=json_output)


async def _runs(
    options: ClientOptions, workflow_id: str, statuses: list[RunStatus], limit: int, json_output: bool
) -> int:
    runs: list[Run] = []
    async with await options.connect() as client:
        async for run in client.list_runs(workflow_id, statuses=statuses, page_size=min(limit, 1000)):
            runs.append(run)
            if len(runs) >= limit:
                break
    if json_output:
        print_json(runs)
    elif runs:
        make_console().print(runs_table(runs))
    else:
        make_console().print("No runs.")
    return EXIT_OK


def show_command(
    run: RunArgument,
    json_output: JsonOutput = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Show a run and each node's status, attempts, duration and provenance (which run produced it)."""
    options = ClientOptions.from_cli(
        history_address=history_address, auth_token=auth_token, tls=tls, tls_ca=tls_ca, timeout=timeout
    )
    run_client_command(_show(options, run, json_output), json_output=json_output)


async def _show(options: ClientOptions, run_id: str, json_output: bool) -> int:
    async with await options.connect() as client:
        run = await client.get_run(await full_run_id(client, run_id))
        workflow = await workflow_of(client, run)
    if json_output:
        print_json(run)
        return EXIT_OK
    console = make_console()
    console.print(run_summary(run))
    console.print(node_results_table(run, workflow))
    if errors := node_errors(run):
        console.print("Node errors", style="bold")
        for line in errors:
            console.print(f"  {line}", markup=False)
    return EXIT_OK
