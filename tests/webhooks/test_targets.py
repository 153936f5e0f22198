"""The address rule on its own: which addresses a webhook may reach."""

from __future__ import annotations

import ipaddress

import pytest

from order_service.webhooks.targets import is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.5.4",
        "192.168.0.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not one bound to
        "::1",
        "::",
        "fd00:ec2::254",
        "fe80::1",
        # IPv4-mapped
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        # IPv4-compatible (deprecated; refused whatever it carries)
        "::7f00:1",
        "::a01:203",
        "::5db8:d70e",
        # NAT64, the well-known prefix and the local-use one
        "64:ff9b::7f00:1",
        "64:ff9b::a01:203",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a01:203",
        # 6to4
        "2002:7f00:1::",
        "2002:a01:203::1",
        "2002:c0a8:a::",
        "2002:a9fe:a9fe::",
        # Teredo: a private server, or a private client (stored inverted)
        "2001:0:a01:203::1",
        "2001:0:5db8:d70e::f5fe:fcfc",
        "2001:0:5db8:d70e::f5ff:fffe",
    ],
)
def test_private_addresses_and_ipv6_forms_carrying_them_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:4700::1111",
        "::ffff:93.184.215.14",
        # what a DNS64 resolver answers for an IPv4-only receiver on an IPv6-only network
        "64:ff9b::5db8:d70e",
        "2002:5db8:d70e::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))
