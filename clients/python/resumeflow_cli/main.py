"""The `resumeflow` command: `serve` starts the services; client commands live beside it."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

from resumeflow_cli.serve import ServeOptions, Which, serve
from resumeflow_core.errors import ResumeflowError
from resumeflow_core.rpc.security import Security

app = typer.Typer(
    help="Resumeflow: run workflow graphs and resume failed runs from their failed nodes.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _main() -> None:
    """Resumeflow: run workflow graphs and resume failed runs from their failed nodes."""


@app.command("serve")
def serve_command(
    which: Annotated[
        Which, typer.Argument(help="Which service to start: both in one process (all), or one of them.")
    ] = Which.ALL,
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
            help="Require 'authorization: Bearer TOKEN' on every call; also sent to the history service.",
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
) -> None:
    """Start the runner and history services (both by default) until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    default_listen = "127.0.0.1:50052" if which == Which.HISTORY else "127.0.0.1:50051"
    options = ServeOptions(
        which=which,
        listen=listen or default_listen,
        history_address=history_address,
        database_url=database,
        security=Security(auth_token=auth_token, tls_cert=tls_cert, tls_key=tls_key),
        history_security=Security(auth_token=auth_token, tls_ca=tls_ca, tls=bool(tls_ca or tls_cert)),
    )
    try:
        asyncio.run(serve(options))
    except ResumeflowError as error:
        typer.echo(f"resumeflow: {error.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass
