"""The operators' destination policy for http nodes: which hosts and addresses the runner may connect to.

Rules are host names (`api.example.com`, `*.example.com`) or addresses and networks
(`10.0.0.0/8`, `::1`). They are checked against the host a request names *and* every address that
host resolves to, so a name pointing somewhere denied is refused (see `http_transport`, which
connects only to the addresses checked here). In order:

1. a host or an address matching a deny rule (`--http-deny`) is refused;
2. a link-local address (169.254.0.0/16, fe80::/10: cloud metadata endpoints) is refused unless an
   allow network names it explicitly;
3. with allow rules (`--http-allow`), a destination is refused unless its host matches an allow
   host rule or every address it resolves to lies in an allow network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_DENIED_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
)
"""Denied unless an allow network names them: link-local, where cloud metadata endpoints live."""

_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


@dataclass(frozen=True)
class DestinationRules:
    """One list of rules (allow or deny): host names, `*.` suffixes and networks."""

    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    """From `*.example.com`: `.example.com`, matching every name below it."""
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str], option: str) -> DestinationRules:
        """Rules from option values, each one entry or several separated by commas.

        Raises:
            ValueError: An entry is neither a host name nor an address or network; names `option`.
        """
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        for entry in (part.strip() for value in entries for part in value.split(",")):
            if not entry:
                continue
            network = _network(entry)
            name = entry.lower().rstrip(".")
            if network is not None:
                networks.append(network)
            elif _HOST_NAME.fullmatch(name) is None:
                raise ValueError(f"{option}: {entry!r} is neither a host name nor an address or CIDR network")
            elif name.startswith("*."):
                suffixes.append(name[1:])
            else:
                hosts.add(name)
        return cls(frozenset(hosts), tuple(suffixes), tuple(networks))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.suffixes or self.networks)

    def host_rule(self, host: str) -> str | None:
        """The rule `host` matches, if any."""
        name = host.lower().rstrip(".")
        if name in self.hosts:
            return name
        return next((f"*{suffix}" for suffix in self.suffixes if name.endswith(suffix)), None)

    def network_of(self, address: IPAddress) -> IPNetwork | None:
        """The first network holding `address` (or the IPv4 address an IPv6 one maps)."""
        return _network_of(address, self.networks)


@dataclass(frozen=True)
class DestinationPolicy:
    """Allow and deny rules; the default allows everything but link-local addresses."""

    allow: DestinationRules = DestinationRules()
    deny: DestinationRules = DestinationRules()

    @classmethod
    def parse(cls, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> DestinationPolicy:
        """The policy of `--http-allow` / `--http-deny` values.

        Raises:
            ValueError: An entry is not a host name, an address or a network.
        """
        return cls(DestinationRules.parse(allow, "--http-allow"), DestinationRules.parse(deny, "--http-deny"))

    def refusal(self, host: str, addresses: Sequence[IPAddress] = ()) -> str | None:
        """Why a connection to `host`, resolved to `addresses`, is refused; None when it is allowed.

        With no addresses only the host rules are checked (before resolving a name).
        """
        rule = self.deny.host_rule(host)
        if rule is not None:
            return f"the host matches the denied host {rule} (--http-deny)"
        for address in addresses:
            reason = self._address_refusal(address)
            if reason is not None:
                return reason
        if not self.allow or not addresses or self.allow.host_rule(host) is not None:
            return None
        outside = next((a for a in addresses if self.allow.network_of(a) is None), None)
        if outside is None:
            return None
        return f"{outside} is not an allowed destination (--http-allow)"

    def _address_refusal(self, address: IPAddress) -> str | None:
        network = self.deny.network_of(address)
        if network is not None:
            return f"{address} is in the denied network {network} (--http-deny)"
        network = _network_of(address, DEFAULT_DENIED_NETWORKS)
        if network is not None and self.allow.network_of(address) is None:
            return f"{address} is in the link-local network {network}, denied by default"
        return None


def _network(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry.removeprefix("[").removesuffix("]"), strict=False)
    except ValueError:
        return None


def _network_of(address: IPAddress, networks: Iterable[IPNetwork]) -> IPNetwork | None:
    # ::ffff:169.254.169.254 reaches the IPv4 address: check it as that too.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    candidates = [address] if mapped is None else [address, mapped]
    for network in networks:
        if any(candidate.version == network.version and candidate in network for candidate in candidates):
            return network
    return None
