"""`python -m resumeflow_cli` is the `resumeflow` command."""

from resumeflow_cli.main import app

app(prog_name="resumeflow")
