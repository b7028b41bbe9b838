"""The client's IP address, believing forwarding headers only from trusted proxies (SEC-4).

Anyone can send `X-Forwarded-For: 1.2.3.4`. The header means something only when the direct
peer is a proxy we run, and even then only the entries our proxies appended: the client may
have sent a forged list that the proxy extended. So the list is read from the right, skipping
trusted proxies; the first address that is not one is the client. An entry that is not an IP
address stops the walk at the last trusted hop (spoofing can pick no address).

Only the one header the proxies are configured to append is read (`TRUSTED_PROXY_HEADER`): if a
proxy appends to `X-Forwarded-For` but passes a client's `Forwarded` header through untouched,
reading `Forwarded` would let the client choose its address.

uvicorn's own `proxy_headers` is off on purpose (`server.py`): the rule lives here, configured
by the validated settings, so it is the same under any server and in the in-process tests, and
it also reads RFC 7239 `Forwarded`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Literal

from starlette.types import Scope

ProxyHeader = Literal["x-forwarded-for", "forwarded"]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_HOPS = 32
_TRUST_CACHE_LIMIT = 4096


def parse_ip(text: str) -> str | None:
    """A canonical address from one header entry (ports, brackets and quotes removed)."""
    text = text.strip().strip('"')
    if text.startswith("["):  # "[2001:db8::1]:4711"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _forwarded_for(values: Iterable[str]) -> list[str]:
    """The `for=` parameters of RFC 7239 `Forwarded` headers, in order."""
    hops: list[str] = []
    for value in values:
        for element in value.split(","):
            found = ""  # an element without `for=` is an unusable hop
            for pair in element.split(";"):
                name, _, parameter = pair.partition("=")
                if name.strip().lower() == "for":
                    found = parameter
            hops.append(found)
    return hops


class ClientIpResolver:
    def __init__(
        self,
        trusted_proxies: Sequence[IpNetwork] = (),
        *,
        header: ProxyHeader = "x-forwarded-for",
    ) -> None:
        self._networks = tuple(trusted_proxies)
        self._header = header.encode("latin-1")
        self._trusted: dict[str, bool] = {}

    def is_trusted(self, address: str) -> bool:
        trusted = self._trusted.get(address)
        if trusted is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            trusted = any(ip in network for network in self._networks)
            if len(self._trusted) < _TRUST_CACHE_LIMIT:
                self._trusted[address] = trusted
        return trusted

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if peer[:7].lower() == "::ffff:":
            # An IPv4 client of a dual-stack listener ("::"): its IPv4 address, as in headers,
            # or every IPv4 client shares one /64 budget and IPv4 proxies are not recognised.
            peer = parse_ip(peer) or peer
        if not self._networks or not self.is_trusted(peer):
            return peer
        values = [
            value.decode("latin-1") for name, value in scope["headers"] if name == self._header
        ]
        if not values:
            return peer
        if self._header == b"forwarded":
            hops = _forwarded_for(values)
        else:
            hops = [hop for value in values for hop in value.split(",")]
        candidate = peer
        for hop in reversed(hops[-_MAX_HOPS:]):
            address = parse_ip(hop)
            if address is None:
                break
            candidate = address
            if not self.is_trusted(address):
                break
        return candidate
