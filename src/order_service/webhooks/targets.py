"""Where a webhook may point: the SSRF rule, applied at creation and again before each send.

A target host is resolved and every address it resolves to must be public. Loopback,
private (RFC 1918, ULA), link-local (which holds the cloud metadata services at
169.254.169.254 and fd00:ec2::254), shared, reserved, multicast and unspecified addresses
are refused, as are IPv4 addresses hidden in IPv6 (`::ffff:127.0.0.1`). Checking again at
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


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
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
                f"{host} resolves to {', '.join(map(str, refused)) or 'nothing'}, which is not a "
                "public address. Webhooks may only reach public addresses.",
            )
        return addresses
