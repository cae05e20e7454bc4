"""Commands that start or follow runs: `run`, `resume`, `watch`, `cancel`.

While a run streams, each node's status is shown live (a table on a terminal, one line per
transition otherwise). Exit codes: 0 the run succeeded, 1 it failed or was cancelled, 2 bad usage or a
rejected request.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from resumeflow_cli.live import RunDisplay, describe_accepted, describe_outcome
from resumeflow_cli.options import (
    AllFailed,
    AuthToken,
    EnvName,
    EnvVars,
    FromRun,
    HistoryAddress,
    Inputs,
    NodeOption,
    PinVersion,
    RequestId,
    RerunChanged,
    RunArgument,
    RunnerAddress,
    Secrets,
    StreamJson,
    Timeout,
    Tls,
    TlsCa,
    WorkflowArgument,
)
from resumeflow_cli.render import (
    make_console,
    print_json,
    to_jsonable,
)
from resumeflow_cli.session import (
    EXIT_OK,
    ClientOptions,
    full_run_id,
    interactive,
    parse_pairs,
    prompt_secrets,
    run_client_command,
    status_exit_code,
    usage_error,
    workflow_of,
)
from resumeflow_client import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    Client,
    Event,
    MissingSecretsError,
    NodeStatus,
    Run,
    RunAccepted,
    RunHandle,
    RunUpdate,
)


def run_command(
    workflow: WorkflowArgument,
    inputs: Inputs = None,
    env_name: EnvName = "",
    env_vars: EnvVars = None,
    secrets: Secrets = None,
    request_id: RequestId = "",
    json_output: StreamJson = False,
    runner_address: RunnerAddress = DEFAULT_RUNNER_ADDRESS,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Run a workflow from the start and show each node's status as it runs.

    Exits 0 when the run succeeds, 1 when it fails or is cancelled, 2 when the request is rejected.
    """
    options = ClientOptions.from_cli(
        runner_address=runner_address,
        history_address=history_address,
        auth_token=auth_token,
        tls=tls,
        tls_ca=tls_ca,
        timeout=timeout,
    )
    arguments: dict[str, Any] = {
        "inputs": parse_pairs(inputs or (), "--input", json_values=True),
        "env_name": env_name,
        "env": parse_pairs(env_vars or (), "--env-var"),
        "secrets": parse_pairs(secrets or (), "--secret"),
        "request_id": request_id,
    }
    run_client_command(_run(options, workflow, arguments, json_output), json_output=json_output)


async def _run(options: ClientOptions, workflow_id: str, arguments: dict[str, Any], json_output: bool) -> int:
    async with await options.connect() as client:
        handle = client.run(workflow_id, **arguments)
        await handle.start()
        return await _follow(client, handle, json_output)


def resume_command(
    workflow: WorkflowArgument,
    node: NodeOption = None,
    all_failed: AllFailed = False,
    from_run: FromRun = None,
    secrets: Secrets = None,
    env_name: EnvName = "",
    env_vars: EnvVars = None,
    rerun_changed: RerunChanged = False,
    pin_version: PinVersion = False,
    plan_token: Annotated[
        str,
        typer.Option(
            "--plan-token",
            metavar="TOKEN",
            help="Run exactly the plan `resumeflow plan` printed, or fail with PLAN_STALE.",
        ),
    ] = "",
    request_id: RequestId = "",
    json_output: StreamJson = False,
    runner_address: RunnerAddress = DEFAULT_RUNNER_ADDRESS,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Resume a failed run from its first failed node (default), one node, or all failed nodes.

    Every other node keeps its earlier result (RESTORED). Runtime secrets are never stored, so the
    re-run nodes' secrets must be given again: when they are missing the command asks for them
    (hidden input) on a terminal, and otherwise exits 2 naming them.

    Exits 0 when the resumed run succeeds, 1 when it fails, 2 when the resume is rejected (nothing to
    resume, unknown node, missing secrets, another resume in progress, …).
    """
    if node is not None and all_failed:
        usage_error("give either --node ID or --all-failed, not both")
    options = ClientOptions.from_cli(
        runner_address=runner_address,
        history_address=history_address,
        auth_token=auth_token,
        tls=tls,
        tls_ca=tls_ca,
        timeout=timeout,
    )
    resume: dict[str, Any] = {
        "node_id": node,
        "all_failed": all_failed,
        "from_run": from_run,
        "env_name": env_name,
        "env": parse_pairs(env_vars or (), "--env-var"),
        "rerun_changed_nodes": rerun_changed,
        "pin_source_version": pin_version,
        "plan_token": plan_token,
        "request_id": request_id,
    }
    run_client_command(
        _resume(options, workflow, resume, parse_pairs(secrets or (), "--secret"), json_output),
        json_output=json_output,
    )


async def _resume(
    options: ClientOptions,
    workflow_id: str,
    resume: dict[str, Any],
    secrets: dict[str, str],
    json_output: bool,
) -> int:
    async with await options.connect() as client:
        if resume.get("from_run"):
            resume = {**resume, "from_run": await full_run_id(client, resume["from_run"])}
        handle = client.resume(workflow_id, secrets=secrets, **resume)
        try:
            await handle.start()
        except MissingSecretsError as error:
            if not (interactive() and error.secret_names):
                raise
            typer.echo(f"The re-run nodes need runtime secrets: {', '.join(error.secret_names)}", err=True)
            secrets = prompt_secrets(error.secret_names, secrets)
            handle = client.resume(workflow_id, secrets=secrets, **resume)
            await handle.start()
        return await _follow(client, handle, json_output)


def watch_command(
    run: RunArgument,
    after: Annotated[
        int,
        typer.Option("--after", metavar="SEQUENCE", help="Only events after this sequence number.", min=0),
    ] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per event instead of a table.")
    ] = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Follow a run's events until it finishes, reconnecting if the stream drops.

    Exits 0 when the run succeeded, 1 when it failed or was cancelled.
    """
    options = ClientOptions.from_cli(
        history_address=history_address, auth_token=auth_token, tls=tls, tls_ca=tls_ca, timeout=timeout
    )
    run_client_command(_watch(options, run, after, json_output), json_output=json_output)


async def _watch(options: ClientOptions, run_id: str, after: int, json_output: bool) -> int:
    async with await options.connect() as client:
        run_id = await full_run_id(client, run_id)
        run = await client.get_run(run_id)
        if json_output:
            async for event in client.watch(run_id, after_sequence=after):
                print_json({"type": "event", **to_jsonable(event)})
            return status_exit_code((await client.get_run(run_id)).status)
        console = make_console()
        console.print(
            f"Watching run {run.id} of {run.workflow_id} (version {run.workflow_version})", markup=False
        )
        with RunDisplay(console) as display:
            display.start(run, await workflow_of(client, run), statuses=_carried_statuses(run))
            async for event in client.watch(run_id, after_sequence=after):
                display.event(event)
        final = await client.get_run(run_id)
    return _outcome(console, final)


def cancel_command(
    run: RunArgument,
    runner_address: RunnerAddress = DEFAULT_RUNNER_ADDRESS,
    auth_token: AuthToken = "",
    tls: Tls = False,
    history_address: HistoryAddress = DEFAULT_HISTORY_ADDRESS,
    tls_ca: TlsCa = "",
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Stop an active run; its unfinished nodes become CANCELLED."""
    options = ClientOptions.from_cli(
        runner_address=runner_address,
        history_address=history_address,
        auth_token=auth_token,
        tls=tls,
        tls_ca=tls_ca,
        timeout=timeout,
    )
    run_client_command(_cancel(options, run))


async def _cancel(options: ClientOptions, run_id: str) -> int:
    async with await options.connect() as client:
        run_id = await full_run_id(client, run_id)
        status = await client.cancel_run(run_id)
    make_console().print(f"Cancellation of run {run_id} requested (it was {status.name}).")
    return EXIT_OK


# --- following a run ------------------------------------------------------------------------------


async def _follow(client: Client, handle: RunHandle, json_output: bool) -> int:
    """Show a run's updates until it finishes; the exit code of its status."""
    if json_output:
        async for update in handle:
            print_json({"type": _update_type(update), **to_jsonable(update)})
        assert handle.finished is not None
        return status_exit_code(handle.finished.run.status)
    console = make_console()
    with RunDisplay(console) as display:
        async for update in handle:
            if isinstance(update, RunAccepted):
                console.print(describe_accepted(update), markup=False)
                run = await client.get_run(update.run.id)
                display.start(run, await workflow_of(client, run), statuses=_carried_statuses(run))
            elif isinstance(update, Event):
                display.event(update)
    assert handle.finished is not None
    return _outcome(console, handle.finished.run)


def _outcome(console: Console, run: Run) -> int:
    """Say how the run ended and return the exit code of its status."""
    for line in describe_outcome(run):
        console.print(line, markup=False)
    return status_exit_code(run.status)


def _update_type(update: RunUpdate) -> str:
    if isinstance(update, RunAccepted):
        return "accepted"
    return "event" if isinstance(update, Event) else "finished"


def _carried_statuses(run: Run) -> dict[str, NodeStatus]:
    """Statuses a resume starts from (restored results, carried failures): they produce no events."""
    return {result.node_id: result.status for result in run.node_results if result.source_run_id}
