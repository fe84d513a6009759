"""Callback address judgement: IPv6 forms that carry an IPv4 address are judged by that address."""

from __future__ import annotations

import ipaddress

import pytest

from taxiway.webhooks.addresses import PrivateCallbackAddress, check_callback_url


def teredo(server: str, client: str) -> str:
    """A Teredo address: 2001:0::/32, the server's IPv4, flags and port, then the client's IPv4 inverted."""
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64) | (0x8000 << 48) | (0x63BF << 32)
    return str(ipaddress.IPv6Address(value | (int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF)))


def nat64_local(ipv4: str, prefix_length: int, tail: int = 0) -> str:
    """An address in 64:ff9b:1::/48 with `ipv4` where a NAT64 prefix of that length puts it (RFC 6052)."""
    v4 = int(ipaddress.IPv4Address(ipv4))
    base = int(ipaddress.IPv6Address("64:ff9b:1::"))
    if prefix_length == 96:
        return str(ipaddress.IPv6Address(base | v4))
    # The IPv4 bits fill the bits after the prefix, skipping bits 64..71 (they stay zero).
    before = 64 - prefix_length  # how many of them come before bit 64
    head, rest = v4 >> (32 - before), v4 & ((1 << (32 - before)) - 1)
    value = base | (head << 64) | (rest << (24 + before))
    return str(ipaddress.IPv6Address(value | tail))


def test_the_address_builders_match_pythons_own_decoding() -> None:
    assert ipaddress.IPv6Address(teredo("65.54.227.120", "127.0.0.1")).teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("127.0.0.1"),
    )
    # RFC 6052's own examples for 192.0.2.33 under 2001:db8:122::/48 and 2001:db8:122:344::/64.
    rfc48 = int(ipaddress.IPv6Address(nat64_local("192.0.2.33", 48))) & ((1 << 80) - 1)
    assert ipaddress.IPv6Address(rfc48 | (0x2001_0DB8_0122 << 80)) == ipaddress.IPv6Address(
        "2001:db8:122:c000:2:2100::"
    )
    rfc64 = int(ipaddress.IPv6Address(nat64_local("192.0.2.33", 64))) & ((1 << 64) - 1)
    assert ipaddress.IPv6Address(rfc64 | (0x2001_0DB8_0122_0344 << 64)) == ipaddress.IPv6Address(
        "2001:db8:122:344:c0:2:2100::"
    )


REFUSED = [
    # 6to4 (2002::/16): the IPv4 address is bits 16..47.
    ("2002:7f00:1::", "127.0.0.1"),
    ("2002:a00:1::1", "10.0.0.1"),
    ("2002:a9fe:a9fe::", "169.254.169.254"),
    ("2002:c0a8:101:1::", "192.168.1.1"),
    # Teredo (2001::/32): the client (inverted, last 32 bits) and the server (bits 32..63).
    (teredo("65.54.227.120", "127.0.0.1"), "127.0.0.1"),
    (teredo("65.54.227.120", "10.1.2.3"), "10.1.2.3"),
    (teredo("65.54.227.120", "169.254.169.254"), "169.254.169.254"),
    (teredo("65.54.227.120", "192.168.0.10"), "192.168.0.10"),
    (teredo("10.0.0.1", "8.8.8.8"), "10.0.0.1"),
    # NAT64, the well-known prefix 64:ff9b::/96.
    ("64:ff9b::7f00:1", "127.0.0.1"),
    ("64:ff9b::a00:1", "10.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b::c0a8:1", "192.168.0.1"),
    ("64:ff9b::6464:64c8", "100.100.100.200"),  # Alibaba's metadata service
    # NAT64, the local-use prefix 64:ff9b:1::/48, with a prefix of any length inside it.
    (nat64_local("127.0.0.1", 96), "127.0.0.1"),
    (nat64_local("10.0.0.1", 48, tail=0x0808_0808), "10.0.0.1"),
    (nat64_local("169.254.169.254", 56), "169.254.169.254"),
    (nat64_local("192.168.1.1", 64, tail=0x0808), "192.168.1.1"),
    # IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96).
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("::ffff:169.254.169.254", "169.254.169.254"),
    ("::ffff:192.168.1.1", "192.168.1.1"),
    ("::127.0.0.1", "127.0.0.1"),
    ("::10.0.0.1", "10.0.0.1"),
    ("::169.254.169.254", "169.254.169.254"),
    ("::192.168.1.1", "192.168.1.1"),
]


@pytest.mark.parametrize(("address", "inside"), REFUSED)
def test_ipv6_carrying_a_private_ipv4_is_refused(address: str, inside: str) -> None:
    with pytest.raises(PrivateCallbackAddress) as caught:
        check_callback_url(f"https://[{address}]/hook", allow_private=False)
    assert str(caught.value).startswith(f"host {address} is a ")
    assert f"({inside} inside it)" in str(caught.value)


ALLOWED = [
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    teredo("65.54.227.120", "8.8.8.8"),
    "64:ff9b::808:808",
    nat64_local("8.8.8.8", 96),
    nat64_local("93.184.215.14", 96),
    nat64_local("8.8.8.8", 48),
    nat64_local("8.8.8.8", 64),
    "::ffff:8.8.8.8",
    "::8.8.8.8",
    "2001:4860:4860::8888",  # plain public IPv6
    "8.8.8.8",
]


@pytest.mark.parametrize("address", ALLOWED)
def test_ipv6_carrying_a_public_ipv4_is_allowed(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    check_callback_url(f"https://{host}/hook", allow_private=False)


@pytest.mark.parametrize("address", ["::1", "::", "fe80::1", "fd00:ec2::254", "fc00::5"])
def test_plain_ipv6_rules_still_hold(address: str) -> None:
    with pytest.raises(PrivateCallbackAddress):
        check_callback_url(f"http://[{address}]/", allow_private=False)
