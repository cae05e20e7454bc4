"""The `resumeflow` command: `serve` starts the services; the client commands drive them.

Exit codes: 0 success (a run succeeded, a read command answered), 1 a run failed or was cancelled,
2 bad usage or a request the services rejected.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sys
from typing import Annotated

import typer

from resumeflow_cli import query_commands, run_commands

app = typer.Typer(
    help="Resumeflow: run workflow graphs and resume failed runs from their failed nodes.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    # An unexpected traceback must never print local variables: they may hold secrets.
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _main() -> None:
    """Resumeflow: run workflow graphs and resume failed runs from their failed nodes."""


class Service(enum.StrEnum):
    """Mirrors `serve.Which`: importing serve.py loads both servers, which every command would pay for."""

    ALL = "all"
    HISTORY = "history"
    RUNNER = "runner"


@app.command("serve")
def serve_command(
    which: Annotated[
        Service, typer.Argument(help="Which service to start: both in one process (all), or one of them.")
    ] = Service.ALL,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            envvar="RESUMEFLOW_LISTEN",
            help="HOST:PORT to listen on. Default: 127.0.0.1:50051 for the runner (and for 'all'), "
            "127.0.0.1:50052 for the history service.",
        ),
    ] = None,
    history_address: Annotated[
        str,
        typer.Option(
            "--history-address",
            envvar="RESUMEFLOW_HISTORY_ADDRESS",
            help="HOST:PORT of the history service; with 'all' the embedded history service listens there.",
        ),
    ] = "127.0.0.1:50052",
    database: Annotated[
        str,
        typer.Option(
            "--database",
            envvar="RESUMEFLOW_DATABASE",
            help="SQLAlchemy URL of the history database, e.g. postgresql+asyncpg://user@host/db.",
        ),
    ] = "sqlite+aiosqlite:///.resumeflow/history.db",
    auth_token: Annotated[
        str,
        typer.Option(
            "--auth-token",
            envvar="RESUMEFLOW_AUTH_TOKEN",
            help="Require 'authorization: Bearer TOKEN' on client calls; the runner also sends it to history "
            "unless it has --runner-token.",
        ),
    ] = "",
    auth_token_file: Annotated[
        str,
        typer.Option(
            "--auth-token-file",
            envvar="RESUMEFLOW_AUTH_TOKEN_FILE",
            help="A file holding the --auth-token (keeps it out of 'ps').",
        ),
    ] = "",
    runner_token: Annotated[
        str,
        typer.Option(
            "--runner-token",
            envvar="RESUMEFLOW_RUNNER_TOKEN",
            help="The runner credential: history requires it of the runner-facing writes, the runner "
            "sends it. With 'all' and --auth-token, a random one is made when none is given.",
        ),
    ] = "",
    runner_token_file: Annotated[
        str,
        typer.Option(
            "--runner-token-file",
            envvar="RESUMEFLOW_RUNNER_TOKEN_FILE",
            help="A file holding the --runner-token.",
        ),
    ] = "",
    tls_cert: Annotated[
        str,
        typer.Option(
            "--tls-cert", envvar="RESUMEFLOW_TLS_CERT", help="PEM certificate chain to serve TLS with."
        ),
    ] = "",
    tls_key: Annotated[
        str, typer.Option("--tls-key", envvar="RESUMEFLOW_TLS_KEY", help="PEM private key of --tls-cert.")
    ] = "",
    tls_ca: Annotated[
        str,
        typer.Option(
            "--tls-ca",
            envvar="RESUMEFLOW_TLS_CA",
            help="PEM roots to trust when calling the history service over TLS.",
        ),
    ] = "",
    max_active_runs: Annotated[
        int,
        typer.Option(
            "--max-active-runs",
            envvar="RESUMEFLOW_MAX_ACTIVE_RUNS",
            min=1,
            help="Runs the runner executes at once; further RunWorkflow calls wait their turn.",
        ),
    ] = 64,  # runner_service.runner.DEFAULT_MAX_ACTIVE_RUNS; not imported, to keep start-up fast
    http_max_response_bytes: Annotated[
        int,
        typer.Option(
            "--http-max-response-bytes",
            envvar="RESUMEFLOW_HTTP_MAX_RESPONSE_BYTES",
            min=1,
            help="The largest decoded response body an http node reads; a node may set less "
            "(max_response_bytes). Over it the node fails RESPONSE_TOO_LARGE.",
        ),
    ] = 10 * 1024 * 1024,  # resumeflow_core.limits.DEFAULT_MAX_RESPONSE_BYTES
    http_allow: Annotated[
        list[str] | None,
        typer.Option(
            "--http-allow",
            envvar="RESUMEFLOW_HTTP_ALLOW",
            help="Hosts (api.example.com, *.example.com) and addresses or CIDR networks http nodes "
            "may connect to; when given, nothing else is. Repeatable or comma-separated.",
            show_default=False,
        ),
    ] = None,
    http_deny: Annotated[
        list[str] | None,
        typer.Option(
            "--http-deny",
            envvar="RESUMEFLOW_HTTP_DENY",
            help="Hosts and addresses or CIDR networks http nodes may not connect to, checked "
            "against every resolved address. Link-local addresses are denied by default. "
            "Repeatable or comma-separated.",
            show_default=False,
        ),
    ] = None,
    max_node_output_bytes: Annotated[
        int,
        typer.Option(
            "--max-node-output-bytes",
            envvar="RESUMEFLOW_MAX_NODE_OUTPUT_BYTES",
            min=1,
            help="Largest output plus written variables of one node, serialized; a node beyond it "
            "fails OUTPUT_TOO_LARGE.",
        ),
    ] = 1024 * 1024,  # resumeflow_core.limits.DEFAULT_MAX_NODE_OUTPUT_BYTES
    shutdown_grace: Annotated[
        float,
        typer.Option(
            "--shutdown-grace",
            envvar="RESUMEFLOW_SHUTDOWN_GRACE",
            min=0,
            help="Seconds a stopping runner lets nodes in flight finish before failing them "
            "RUNNER_SHUTDOWN; history waits this long plus 15 s for the runners' last writes.",
        ),
    ] = 10.0,  # runner_service.runner.DEFAULT_SHUTDOWN_GRACE
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            envvar="RESUMEFLOW_LEASE_SECONDS",
            min=2.0,
            help="Runner: how long a run's lease lasts without a heartbeat (renewed every third of it); "
            "a run whose runner stops for longer fails as RUNNER_LOST.",
        ),
    ] = 30.0,  # resumeflow_core.limits.DEFAULT_LEASE_SECONDS
) -> None:
    """Start the runner and history services (both by default) until interrupted."""
    from resumeflow_cli.serve import ServeOptions, Which, read_token, serve
    from resumeflow_core.errors import ResumeflowError
    from resumeflow_core.nodes.destinations import DestinationPolicy
    from resumeflow_core.nodes.http_settings import HttpSettings
    from resumeflow_core.rpc.security import Security

    try:
        policy = DestinationPolicy.parse(http_allow or (), http_deny or ())
    except ValueError as error:
        typer.echo(f"resumeflow: {error}", err=True)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    default_listen = "127.0.0.1:50052" if which == Service.HISTORY else "127.0.0.1:50051"
    try:
        auth_token = read_token(auth_token, auth_token_file, "--auth-token")
        runner_token = read_token(runner_token, runner_token_file, "--runner-token")
    except ResumeflowError as error:
        typer.echo(f"resumeflow: {error.message}", err=True)
        sys.exit(1)
    options = ServeOptions(
        which=Which(which.value),
        listen=listen or default_listen,
        history_address=history_address,
        database_url=database,
        security=Security(auth_token=auth_token, tls_cert=tls_cert, tls_key=tls_key),
        history_security=Security(auth_token=auth_token, tls_ca=tls_ca, tls=bool(tls_ca or tls_cert)),
        max_active_runs=max_active_runs,
        runner_token=runner_token,
        http_settings=HttpSettings(max_response_bytes=http_max_response_bytes, policy=policy),
        max_node_output_bytes=max_node_output_bytes,
        shutdown_grace=shutdown_grace,
        lease_seconds=lease_seconds,
    )
    try:
        asyncio.run(serve(options))
    except ResumeflowError as error:
        typer.echo(f"resumeflow: {error.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


app.command("apply")(query_commands.apply_command)
app.command("run")(run_commands.run_command)
app.command("failed")(query_commands.failed_command)
app.command("resume")(run_commands.resume_command)
app.command("plan")(query_commands.plan_command)
app.command("watch")(run_commands.watch_command)
app.command("runs")(query_commands.runs_command)
app.command("show")(query_commands.show_command)
app.command("cancel")(run_commands.cancel_command)
