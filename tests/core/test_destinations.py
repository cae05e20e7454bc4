"""The destination policy as a pure check of a host and its addresses (no connection is made)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from resumeflow_core.nodes.destinations import DEFAULT_DENIED_NETWORKS, DestinationPolicy


def refusal(policy: DestinationPolicy, host: str, *addresses: str) -> str | None:
    return policy.refusal(host, [ip_address(a) for a in addresses])


# The link-local addresses these checks use are computed from the networks the policy denies,
# never written out: tests name only loopback addresses (no test may aim at another one).
LINK_LOCAL_V4 = next(n for n in DEFAULT_DENIED_NETWORKS if n.version == 4)
LINK_LOCAL_V6 = next(n for n in DEFAULT_DENIED_NETWORKS if n.version == 6)


def test_the_networks_denied_by_default_are_the_link_local_ones_of_both_families() -> None:
    assert {n.version for n in DEFAULT_DENIED_NETWORKS} == {4, 6}
    assert all(n.is_link_local for n in DEFAULT_DENIED_NETWORKS)
    # Whole ranges: the addresses just outside each are not link-local any more.
    assert not any((n[0] - 1).is_link_local or (n[-1] + 1).is_link_local for n in DEFAULT_DENIED_NETWORKS)


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(str(LINK_LOCAL_V4[1]), id="ipv4-first"),
        pytest.param(str(LINK_LOCAL_V4[-2]), id="ipv4-last"),
        pytest.param(str(LINK_LOCAL_V6[1]), id="ipv6-link-local"),
        pytest.param(f"::ffff:{LINK_LOCAL_V4[-2]}", id="ipv4-mapped-ipv6"),
    ],
)
def test_link_local_addresses_are_denied_by_default(address: str) -> None:
    reason = refusal(DestinationPolicy(), "metadata.test", address)

    assert reason is not None and "link-local" in reason and "denied by default" in reason


def test_the_default_policy_allows_other_addresses() -> None:
    assert refusal(DestinationPolicy(), "api.test", "127.0.0.1", "::1", "127.8.9.10") is None


def test_one_denied_address_among_several_refuses_the_host() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.2/32"])

    reason = refusal(policy, "twice.test", "127.0.0.1", "127.0.0.2")

    assert reason == "127.0.0.2 is in the denied network 127.0.0.2/32 (--http-deny)"


def test_an_allow_network_lifts_the_link_local_default_but_not_an_operator_deny() -> None:
    metadata = str(LINK_LOCAL_V4[-2])
    lifted = DestinationPolicy.parse(allow=[f"{metadata}/32"])
    both = DestinationPolicy.parse(allow=[str(LINK_LOCAL_V4)], deny=[metadata])

    assert refusal(lifted, "metadata.test", metadata) is None
    assert f"denied network {metadata}/32" in (refusal(both, "metadata.test", metadata) or "")


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
    link_local = str(LINK_LOCAL_V4[257])
    assert refusal(DestinationPolicy.parse(allow=["localhost"]), "localhost", link_local) is not None


def test_a_denied_host_name_is_refused_before_resolving() -> None:
    policy = DestinationPolicy.parse(deny=["*.internal.test", "db.test"])

    assert (
        policy.refusal("a.b.internal.test")
        == "the host matches the denied host *.internal.test (--http-deny)"
    )
    assert policy.refusal("DB.test") == "the host matches the denied host db.test (--http-deny)"
    assert policy.refusal("internal.test") is None


@pytest.mark.parametrize("entry", ["http://x.test", "a b", "127.0.0.0/33", "*"])
def test_a_malformed_entry_is_rejected_naming_the_option(entry: str) -> None:
    with pytest.raises(ValueError, match="--http-deny"):
        DestinationPolicy.parse(deny=[entry])


def test_entries_may_be_repeated_and_comma_separated_with_blanks_ignored() -> None:
    policy = DestinationPolicy.parse(deny=["127.0.0.2, [::2]", "", "127.0.0.3,"])

    assert [str(n) for n in policy.deny.networks] == ["127.0.0.2/32", "::2/128", "127.0.0.3/32"]
