"""The destination policy as a pure check of a host and its addresses (no connection is made)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from resumeflow_core.nodes.destinations import DestinationPolicy


def refusal(policy: DestinationPolicy, host: str, *addresses: str) -> str | None:
    return policy.refusal(host, [ip_address(a) for a in addresses])


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("169.254.169.254", id="ipv4-metadata"),
        pytest.param("169.254.0.1", id="ipv4-link-local"),
        pytest.param("fe80::1", id="ipv6-link-local"),
        pytest.param("::ffff:169.254.169.254", id="ipv4-mapped-ipv6"),
    ],
)
def test_link_local_addresses_are_denied_by_default(address: str) -> None:
    reason = refusal(DestinationPolicy(), "metadata.test", address)

    assert reason is not None and "link-local" in reason and "denied by default" in reason


def test_the_default_policy_allows_other_addresses() -> None:
    assert refusal(DestinationPolicy(), "api.test", "127.0.0.1", "::1", "203.0.113.7") is None


def test_one_denied_address_among_several_refuses_the_host() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.2/32"])

    reason = refusal(policy, "twice.test", "127.0.0.1", "127.0.0.2")

    assert reason == "127.0.0.2 is in the denied network 127.0.0.2/32 (--http-deny)"


def test_an_allow_network_lifts_the_link_local_default_but_not_an_operator_deny() -> None:
    lifted = DestinationPolicy.parse(allow=["169.254.169.254/32"])
    both = DestinationPolicy.parse(allow=["169.254.0.0/16"], deny=["169.254.169.254"])

    assert refusal(lifted, "metadata.test", "169.254.169.254") is None
    assert "denied network 169.254.169.254/32" in (refusal(both, "metadata.test", "169.254.169.254") or "")


def test_with_allow_rules_only_allowed_hosts_or_networks_pass() -> None:
    policy = DestinationPolicy.parse(allow=["127.0.0.1", "api.test,*.corp.test"])

    assert refusal(policy, "127.0.0.1", "127.0.0.1") is None
    assert refusal(policy, "API.test.", "127.0.0.9") is None  # host rules ignore case and a final dot
    assert refusal(policy, "x.corp.test", "127.0.0.9") is None
    assert (
        refusal(policy, "corp.test", "127.0.0.9") == "127.0.0.9 is not an allowed destination (--http-allow)"
    )
    assert (
        refusal(policy, "127.0.0.3", "127.0.0.3") == "127.0.0.3 is not an allowed destination (--http-allow)"
    )


def test_an_allowed_host_resolving_to_a_denied_address_is_refused() -> None:
    policy = DestinationPolicy.parse(allow=["localhost"], deny=["127.0.0.0/8"])

    assert refusal(policy, "localhost", "127.0.0.1") is not None
    assert refusal(DestinationPolicy.parse(allow=["localhost"]), "localhost", "169.254.1.1") is not None


def test_a_denied_host_name_is_refused_before_resolving() -> None:
    policy = DestinationPolicy.parse(deny=["*.internal.test", "db.test"])

    assert (
        policy.refusal("a.b.internal.test")
        == "the host matches the denied host *.internal.test (--http-deny)"
    )
    assert policy.refusal("DB.test") == "the host matches the denied host db.test (--http-deny)"
    assert policy.refusal("internal.test") is None


@pytest.mark.parametrize("entry", ["http://x.test", "a b", "10.0.0.0/33", "*"])
def test_a_malformed_entry_is_rejected_naming_the_option(entry: str) -> None:
    with pytest.raises(ValueError, match="--http-deny"):
        DestinationPolicy.parse(deny=[entry])


def test_entries_may_be_repeated_and_comma_separated_with_blanks_ignored() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.2, [::2]", "", "127.0.0.3,"])

    assert [str(n) for n in policy.deny.networks] == ["127.0.0.2/32", "::2/128", "127.0.0.3/32"]
