"""What every client command shares: the client options, exit codes, errors as one line, prompts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import typer

from resumeflow_client import (
    DEFAULT_HISTORY_ADDRESS,
    DEFAULT_RUNNER_ADDRESS,
    DEFAULT_TIMEOUT,
    Client,
    MissingSecretsError,
    NotFoundError,
    ResumeflowError,
    ResumeInProgressError,
    Run,
    RunStatus,
    UnavailableError,
    Workflow,
)

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2  # bad usage (typer's own code for it) or a request the services rejected
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ClientOptions:
    """How to reach the services, from the command line or RESUMEFLOW_* variables."""

    runner_address: str = DEFAULT_RUNNER_ADDRESS
    history_address: str = DEFAULT_HISTORY_ADDRESS
    auth_token: str = ""
    tls: bool = False
    tls_root_certificates: bytes | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_cli(
        cls,
        *,
        runner_address: str = DEFAULT_RUNNER_ADDRESS,
        history_address: str = DEFAULT_HISTORY_ADDRESS,
        auth_token: str = "",
        tls: bool = False,
        tls_ca: str = "",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ClientOptions:
        """The options as given; exits 2 when the --tls-ca file cannot be read."""
        roots = None
        if tls_ca:
            try:
                roots = Path(tls_ca).read_bytes()
            except OSError as exc:
                usage_error(f"cannot read --tls-ca {tls_ca}: {exc.strerror}")
        return cls(runner_address, history_address, auth_token, tls, roots, timeout)

    async def connect(self) -> Client:
        return await Client.connect(
            self.runner_address,
            history_address=self.history_address,
            auth_token=self.auth_token or None,
            tls=self.tls,
            tls_root_certificates=self.tls_root_certificates,
            timeout=self.timeout if self.timeout > 0 else None,
        )


FULL_RUN_ID_LENGTH = 32  # the history's run ids: uuid4 hex
MIN_RUN_ID_PREFIX = 6


async def full_run_id(client: Client, run_id: str) -> str:
    """A run id as typed: a prefix of 6 or more characters becomes the one full id the history
    resolves it to (RUN_NOT_FOUND, or AMBIGUOUS_RUN_ID listing the candidates, otherwise)."""
    if MIN_RUN_ID_PREFIX <= len(run_id) < FULL_RUN_ID_LENGTH:
        return await client.resolve_run_id(run_id)
    return run_id


def short_id(run_id: str) -> str:
    """The first 8 characters of a run id, as tables show it; any unique 6 of them name the run."""
    return run_id[:8]


def status_exit_code(status: RunStatus) -> int:
    """The exit code for a finished run: 0 when it succeeded, 1 when it failed or was cancelled."""
    return EXIT_OK if status == RunStatus.SUCCEEDED else EXIT_RUN_FAILED


def run_client_command(main: Coroutine[Any, Any, int], *, json_output: bool = False) -> NoReturn:
    """Run a command's coroutine and exit with its code; library errors are printed (as one JSON
    object on stdout with `json_output`, for scripts) and exit 2."""
    try:
        code = asyncio.run(main)
    except ResumeflowError as error:
        if json_output:
            typer.echo(json.dumps({"error": error_document(error)}, indent=2))
        else:
            print_error(error)
        code = EXIT_USAGE
    except (KeyboardInterrupt, typer.Abort):  # Ctrl-C, also at a prompt
        typer.echo("Aborted.", err=True)
        code = EXIT_INTERRUPTED
    raise typer.Exit(code)


def error_document(error: ResumeflowError) -> dict[str, Any]:
    """The error as `--json` prints it: the gRPC code, its reason and every detail."""
    return {
        "code": error.code.name,
        "reason": error.reason,
        "message": error.message,
        "metadata": dict(sorted(error.metadata.items())),
        "violations": [
            {"field": v.field, "description": v.description, "reason": v.reason} for v in error.violations
        ],
    }


def print_error(error: ResumeflowError) -> None:
    """`REASON: message`, then the details a user needs to act on it (the reasons are the ones
    README's error table lists, so a user can look them up)."""
    lines = [f"{error.reason}: {error.message}"]
    lines += [
        f"  - {violation}" + (f" ({violation.reason})" if violation.reason else "")
        for violation in error.violations
    ]
    # Metadata the message already quotes (a run id, a workflow id) would only repeat it.
    lines += [
        f"  {key}: {value}"
        for key, value in sorted(error.metadata.items())
        if key not in _SHOWN_BELOW and value not in error.message
    ]
    if error.total_violations > len(error.violations):
        lines.append(f"  … and {error.total_violations - len(error.violations)} more")
    if isinstance(error, MissingSecretsError) and error.secret_names:
        flags = " ".join(f"--secret {name}=VALUE" for name in error.secret_names)
        lines.append(f"  missing secrets: {', '.join(error.secret_names)} (pass {flags})")
    if isinstance(error, ResumeInProgressError) and error.active_run_id:
        lines.append(
            f"  active resume: {error.active_run_id} (follow it with: resumeflow watch {error.active_run_id})"
        )
    if isinstance(error, UnavailableError) and not error.domain:
        lines.append("  is the service running? see --runner-address / --history-address")
    typer.echo("\n".join(_wrapped(line) for line in lines), err=True)


def _wrapped(line: str) -> str:
    """`line` wrapped at words to the terminal's width (or COLUMNS); whole in pipes and logs."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        width = int(columns)
    else:
        width = shutil.get_terminal_size().columns if sys.stderr.isatty() else 0
    if not width or len(line) <= width:
        return line
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    return textwrap.fill(
        line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )


# Metadata that print_error spells out in a line of its own.
_SHOWN_BELOW = frozenset({"missing_secrets", "active_run_id"})


def usage_error(message: str) -> NoReturn:
    """Exit 2 with one line, as typer does for bad usage."""
    typer.echo(f"Usage error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def parse_pairs(values: Iterable[str], option: str, *, json_values: bool = False) -> dict[str, Any]:
    """`KEY=VALUE` options as a dict; with `json_values`, values that parse as JSON are decoded."""
    pairs: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            usage_error(f"{option} expects KEY=VALUE, got {item!r}")
        if json_values:
            try:
                pairs[key] = json.loads(value)
            except ValueError:
                pairs[key] = value
        else:
            pairs[key] = value
    return pairs


def interactive() -> bool:
    """True when prompts can be answered: stdin is a terminal, or RESUMEFLOW_INTERACTIVE=1 says so."""
    forced = os.environ.get("RESUMEFLOW_INTERACTIVE", "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    return sys.stdin.isatty()


def prompt_secrets(names: Iterable[str], given: Mapping[str, str]) -> dict[str, str]:
    """Ask for each named secret with hidden input; returns `given` plus the answers."""
    answers = dict(given)
    for name in names:
        answers[name] = typer.prompt(f"Secret {name}", hide_input=True)
    return answers


async def workflow_of(client: Client, run: Run) -> Workflow | None:
    """The workflow version a run ran, for node labels; None when it is gone."""
    try:
        return await client.get_workflow(run.workflow_id, version=run.workflow_version)
    except NotFoundError:
        return None
