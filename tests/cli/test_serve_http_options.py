"""`resumeflow serve`'s http options reach the runner's settings; a bad policy entry is one clear line."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from typer.testing import CliRunner

from resumeflow_cli import serve as serve_module
from resumeflow_cli.main import app
from resumeflow_cli.serve import ServeOptions
from resumeflow_core.limits import DEFAULT_MAX_RESPONSE_BYTES


def test_the_http_options_and_their_environment_variables_reach_the_runner_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[ServeOptions] = []

    async def record(options: ServeOptions) -> None:
        seen.append(options)

    monkeypatch.setattr(serve_module, "serve", record)
    args = ["serve", "--http-max-response-bytes", "2048", "--http-deny", "127.0.0.2,127.0.0.3"]
    result = CliRunner().invoke(
        app, [*args, "--http-deny", "*.internal.test"], env={"RESUMEFLOW_HTTP_ALLOW": "127.0.0.1,localhost"}
    )

    assert result.exit_code == 0, result.output
    settings = seen[0].http_settings
    assert settings.max_response_bytes == 2048
    assert settings.policy.deny.networks == (ip_network("127.0.0.2/32"), ip_network("127.0.0.3/32"))
    assert settings.policy.deny.suffixes == (".internal.test",)
    assert settings.policy.allow.hosts == frozenset({"localhost"})
    assert settings.policy.allow.networks == (ip_network("127.0.0.1/32"),)


def test_the_defaults_are_the_core_10_mib_cap_and_no_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ServeOptions] = []

    async def record(options: ServeOptions) -> None:
        seen.append(options)

    monkeypatch.setattr(serve_module, "serve", record)
    monkeypatch.delenv("RESUMEFLOW_HTTP_ALLOW", raising=False)
    monkeypatch.delenv("RESUMEFLOW_HTTP_DENY", raising=False)
    monkeypatch.delenv("RESUMEFLOW_HTTP_MAX_RESPONSE_BYTES", raising=False)

    assert CliRunner().invoke(app, ["serve"]).exit_code == 0
    settings = seen[0].http_settings
    assert settings.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 10 * 1024 * 1024
    assert not settings.policy.allow and not settings.policy.deny


def test_a_malformed_policy_entry_exits_2_with_one_line_naming_it() -> None:
    result = CliRunner().invoke(app, ["serve", "--http-deny", "http://x.test/"])

    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "resumeflow: --http-deny: 'http://x.test/' is neither a host name nor an address or CIDR network"
    )
