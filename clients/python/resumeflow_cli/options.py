"""The options and arguments the client commands share, with their help texts."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

CONNECTION_PANEL = "Connection"

RunnerAddress = Annotated[
    str,
    typer.Option(
        "--runner-address",
        envvar="RESUMEFLOW_RUNNER_ADDRESS",
        help="HOST:PORT of the runner service.",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
HistoryAddress = Annotated[
    str,
    typer.Option(
        "--history-address",
        envvar="RESUMEFLOW_HISTORY_ADDRESS",
        help="HOST:PORT of the history service.",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
AuthToken = Annotated[
    str,
    typer.Option(
        "--auth-token",
        envvar="RESUMEFLOW_AUTH_TOKEN",
        help="Bearer token sent in the 'authorization' metadata of every call.",
        rich_help_panel=CONNECTION_PANEL,
        show_default=False,
    ),
]
Tls = Annotated[
    bool,
    typer.Option(
        "--tls",
        envvar="RESUMEFLOW_TLS",
        help="Connect with TLS, trusting the system's root certificates.",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
TlsCa = Annotated[
    str,
    typer.Option(
        "--tls-ca",
        envvar="RESUMEFLOW_TLS_CA",
        help="PEM root certificates to trust; implies --tls.",
        rich_help_panel=CONNECTION_PANEL,
        show_default=False,
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        envvar="RESUMEFLOW_TIMEOUT",
        help="Seconds each request may take (streams are not limited).",
        rich_help_panel=CONNECTION_PANEL,
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]


Inputs = Annotated[
    list[str] | None,
    typer.Option(
        "--input",
        "-i",
        metavar="KEY=VALUE",
        help="An input variable (seen as vars.KEY); VALUE is read as JSON when it parses (3, true, "
        '["a"]), else as text. Repeatable.',
        show_default=False,
    ),
]
EnvName = Annotated[
    str,
    typer.Option(
        "--env", metavar="NAME", help="The environment's name, such as staging.", show_default=False
    ),
]
EnvVars = Annotated[
    list[str] | None,
    typer.Option(
        "--env-var",
        "-e",
        metavar="KEY=VALUE",
        help="A non-secret environment value (seen as env.KEY), stored with the run. Repeatable.",
        show_default=False,
    ),
]
Secrets = Annotated[
    list[str] | None,
    typer.Option(
        "--secret",
        "-s",
        metavar="KEY=VALUE",
        help="A runtime secret (seen as secrets.KEY); never stored, redacted from everything. Repeatable.",
        show_default=False,
    ),
]
RequestId = Annotated[
    str,
    typer.Option(
        "--request-id",
        metavar="KEY",
        help="Idempotency key: the same key follows the same run.",
        show_default=False,
    ),
]
NodeOption = Annotated[
    str | None,
    typer.Option("--node", "-n", metavar="ID", help="Re-run from this failed node only.", show_default=False),
]
AllFailed = Annotated[
    bool, typer.Option("--all-failed", help="Re-run from every failed node of the source run.")
]
FromRun = Annotated[
    str | None,
    typer.Option(
        "--from-run",
        metavar="RUN",
        help="The run to resume. Default: the workflow's latest unresolved failed run.",
        show_default=False,
    ),
]
RerunChanged = Annotated[
    bool,
    typer.Option(
        "--rerun-changed",
        help="Re-run reused upstream nodes whose definition changed, instead of rejecting (WORKFLOW_DRIFT).",
    ),
]
PinVersion = Annotated[
    bool, typer.Option("--pin-version", help="Run the source run's workflow version instead of the latest.")
]
WorkflowArgument = Annotated[
    str, typer.Argument(metavar="WORKFLOW", help="The workflow's id.", show_default=False)
]
RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="The run's id.", show_default=False)]
StreamJson = Annotated[
    bool,
    typer.Option(
        "--json", help="Print one JSON object per update (accepted, event, finished) instead of a table."
    ),
]


class StatusChoice(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
