"""Where a webhook may point: the SSRF rule, applied at creation and again before each send.

A target host is resolved and every address it resolves to must be public. Loopback,
private (RFC 1918, ULA), link-local (which holds the cloud metadata services at
169.254.169.254 and fd00:ec2::254), shared, reserved, multicast and unspecified addresses
are refused, as are IPv6 addresses that carry a refused IPv4 address inside them
(IPv4-mapped `::ffff:10.0.0.1`, IPv4-compatible `::10.0.0.1`, NAT64 `64:ff9b::a00:1`, 6to4
`2002:a00:1::`, Teredo `2001:0:…`): a translator or relay on the way delivers them to that
IPv4 address. Checking again at
send time matters because DNS can change after creation; the HTTP transport then connects
to the address it checked, so a second lookup cannot swap in another one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from order_service.settings import Settings
from order_service.webhooks import errors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The well-known NAT64 prefix: a DNS64 resolver on an IPv6-only network answers with it for
hosts that have only IPv4 addresses, so such an address is judged by the IPv4 inside it."""
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address leads to through a translator, relay or tunnel."""
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo  # (server, client)
    return ()


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inside = embedded_ipv4(address)
        if not all(map(is_public, inside)):
            return False
        if address.ipv4_mapped is not None or address in NAT64:
            # Only ever reached as the IPv4 address inside; Python's verdict on the IPv6
            # prefix itself differs between versions.
            return True
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and address not in METADATA_ADDRESSES
    )


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_private: bool
    trusted_hosts: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> TargetPolicy:
        return cls(
            settings.webhook_allow_private_targets, frozenset(settings.webhook_trusted_hosts)
        )

    def exempt(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        return (
            self.allow_private
            or host in self.trusted_hosts
            or (f"{host}:{port}" in self.trusted_hosts)
        )

    async def check(self, host: str, port: int) -> list[IPAddress] | None:
        """The public addresses `host` resolves to, or None when the host is exempt (then the
        connection resolves as usual). Raises WebhookTargetNotAllowed / Unresolvable."""
        if self.exempt(host, port):
            return None
        bare = host.strip("[]")
        try:
            literal: IPAddress | None = ipaddress.ip_address(bare)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    bare, port, type=socket.SOCK_STREAM
                )
            except (socket.gaierror, UnicodeError) as exc:
                raise errors.WebhookUrlUnresolvable(f"{host} does not resolve: {exc}.") from exc
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
            )
        refused = [a for a in addresses if not is_public(a)]
        if refused or not addresses:
            raise errors.WebhookTargetNotAllowed(
                f"{host} resolves to {', '.join(map(_describe, refused)) or 'nothing'}, which is "
                "not a public address. Webhooks may only reach public addresses.",
            )
        return addresses


def _describe(address: IPAddress) -> str:
    inside = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else ()
    return f"{address} (carrying {', '.join(map(str, inside))})" if inside else str(address)
