"""Which hosts mockforge may send requests to (``http.callbacks.allow_hosts``): names, IP
addresses and CIDR ranges, checked on the name in a URL and again on every address it resolves
to (docs/CALLBACKS.md).

    allow = AllowList(["localhost", "hooks.internal", "10.1.0.0/16"])
    allow.host_allowed("hooks.internal")                       # True
    allow.address_allowed(ipaddress.ip_address("10.9.0.1"))    # False
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["AllowList", "entry_ok", "ip_of"]

_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AllowList:
    """``http.callbacks.allow_hosts``: names, and the IP addresses / ranges callbacks may reach."""

    def __init__(self, entries: list[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[_Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.names.add(entry.lower().rstrip("."))
        if "localhost" in self.names:
            self.networks.extend(_LOOPBACK)

    def host_allowed(self, host: str) -> bool:
        address = ip_of(host)
        if address is None:
            return host.lower().rstrip(".") in self.names
        return self.address_allowed(address)

    def address_allowed(self, address: _Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)


def ip_of(text: str) -> _Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def entry_ok(entry: str) -> bool:
    """Whether a list entry is a host name, an IP address or a CIDR range."""
    try:
        ipaddress.ip_network(entry, strict=False)
        return True
    except ValueError:
        return _NAME.fullmatch(entry) is not None
