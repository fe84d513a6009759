"""Which callback URLs we may call: never loopback, private, link-local or cloud-metadata hosts.

Checked when a replyUrl is accepted (a clear 400 early) and again right before each delivery (DNS
may have changed in between). A delivery looks the name up once, here, and connects to the very
addresses judged here (see pinned.py): a name that answers differently the second time gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from taxiway.core.fields import NUL, SPACE

# What a replyUrl looks like, stated in the OpenAPI document and checked before check_syntax: every
# URL it matches passes check_syntax (whose urlsplit validates a bracketed IPv6 host, hence RFC
# 3986's IPv6 grammar, IPv4-in-IPv6 forms included, so that they reach the address checks; zone ids
# are left out).
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_GROUP = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = rf"(?:{_GROUP}:{_GROUP}|{_OCTET}(?:\.{_OCTET}){{3}})"


def _head(groups: int) -> str:
    """Up to ``groups`` + 1 groups before a "::" (RFC 3986's [ *n( h16 ":" ) h16 ])."""
    return f"(?:(?:{_GROUP}:){{0,{groups}}}{_GROUP})?" if groups >= 0 else ""


_IPV6 = "|".join(
    [
        f"(?:{_GROUP}:){{6}}{_LS32}",
        f"::(?:{_GROUP}:){{5}}{_LS32}",
        f"(?:{_GROUP})?::(?:{_GROUP}:){{4}}{_LS32}",
        f"{_head(1)}::(?:{_GROUP}:){{3}}{_LS32}",
        f"{_head(2)}::(?:{_GROUP}:){{2}}{_LS32}",
        f"{_head(3)}::{_GROUP}:{_LS32}",
        f"{_head(4)}::{_LS32}",
        f"{_head(5)}::{_GROUP}",
        f"{_head(6)}::",
    ]
)
# The characters that NFKC turns into one of /?#@: (urlsplit refuses them in a host; a unit test
# checks the list against all of Unicode).
NFKC_DELIMITERS = (
    "\u2047\u2048\u2049\u2100\u2101\u2105\u2106\u2a74"
    "\ufe13\ufe16\ufe55\ufe56\ufe5f\ufe6b\uff03\uff0f\uff1a\uff1f\uff20"
)
_NETLOC_CHAR = rf"[^{SPACE}{NUL}/?#@:\[\]{NFKC_DELIMITERS}]"
_HOST = rf"(?:\[(?:{_IPV6})\]|{_NETLOC_CHAR}+)"
CALLBACK_URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{_NETLOC_CHAR}|:)*@)?{_HOST}(?::{_PORT}?)?(?:[/?#][^{SPACE}{NUL}]*)?$"
)
CALLBACK_URL_HINT = "an absolute http:// or https:// URL"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "metadata.goog"}
# Cloud metadata services outside the private and link-local ranges.
_METADATA_IPS = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
# RFC 6052 §2.2: the bits that hold the IPv4 address after a NAT64 prefix of each length (bits
# 64..71 never do). The local-use prefix 64:ff9b:1::/48 may hold a prefix of any of these lengths.
_NAT64_SPANS = (((48, 64), (72, 88)), ((56, 64), (72, 96)), ((72, 104),), ((96, 128),))


class CallbackRefused(Exception):
    """The URL may not receive callbacks; the message says why."""


class PrivateCallbackAddress(CallbackRefused):
    """The host is local, private or a metadata service (allowed by TAXIWAY_ALLOW_PRIVATE_CALLBACKS)."""


class CallbackUnresolvable(Exception):
    """The host did not resolve now: not a refusal. Admission lets it pass; delivery retries it later."""


@dataclass(frozen=True)
class CallbackTarget:
    """Where one delivery goes: its URL and the addresses checked for its host, to connect to in order."""

    url: str
    addresses: tuple[str, ...]


def _ipv4_at(ip: ipaddress.IPv6Address, spans: tuple[tuple[int, int], ...]) -> ipaddress.IPv4Address:
    value = 0
    for start, end in spans:  # bit 0 is the most significant
        value = (value << (end - start)) | ((int(ip) >> (128 - end)) & ((1 << (end - start)) - 1))
    return ipaddress.IPv4Address(value)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, compatible); None if none."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the server, and the client whose NAT the packets go to
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return [_ipv4_at(ip, ((96, 128),))]
    if ip in _NAT64_LOCAL:
        # Which prefix length the gateway uses is not ours to know, so every reading counts, but
        # one in 0.0.0.0/8 is no address (a gateway translates none there): the bits are padding.
        readings = [_ipv4_at(ip, spans) for spans in _NAT64_SPANS]
        return [v4 for v4 in readings if v4 not in _THIS_NETWORK] or readings[-1:]
    return None


def refusal_reason(ip: IPAddress) -> str | None:
    """Why callbacks may not go to `ip` ("a loopback address", ...), or None when they may."""
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address) and (inner := embedded_ipv4(ip)) is not None:
        # The packets reach the IPv4 address inside; the IPv6 range it sits in says nothing about it.
        for v4 in inner:
            if reason := refusal_reason(v4):
                return f"{reason} ({v4} inside it)"
        return None
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return "a private or reserved address"
    return None


def check_syntax(url: str) -> tuple[str, str]:
    """Scheme and host of an http(s) URL; CallbackRefused if it is not one."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise CallbackRefused(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused(f"must be {CALLBACK_URL_HINT}")
    return parts.scheme, parts.hostname.lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _look_up(host: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise CallbackUnresolvable(f"host {host} could not be resolved ({exc})") from None
    except UnicodeError:  # from the IDNA codec: a label too long or empty
        raise CallbackRefused(f"host {host} is not a valid host name") from None
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def resolve_callback(url: str, *, allow_private: bool) -> CallbackTarget:
    """Look the URL's host up once and judge every address it has.

    CallbackRefused (PrivateCallbackAddress unless `allow_private`) if the URL or any address is
    refused; CallbackUnresolvable if the host does not resolve now.
    """
    _, host = check_syntax(url)
    if not allow_private and (
        host in _BLOCKED_NAMES or host.endswith(".localhost") or host.endswith(".internal")
    ):
        raise PrivateCallbackAddress(f"host {host} is a local or metadata host")
    literal = _literal(host)
    found = [literal] if literal is not None else _look_up(host)
    if not allow_private:
        for ip in found:
            if reason := refusal_reason(ip):
                verb = "is" if literal is not None else "resolves to"
                raise PrivateCallbackAddress(f"host {host} {verb} {reason}")
    return CallbackTarget(url=url, addresses=tuple(str(ip) for ip in found))


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise CallbackRefused unless `url` is an http(s) URL of a public host (every address checked).

    CallbackUnresolvable when the host does not resolve now. With `allow_private`, the syntax only.
    """
    if allow_private:
        check_syntax(url)
        return
    resolve_callback(url, allow_private=False)
