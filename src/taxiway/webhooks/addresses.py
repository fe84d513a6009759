"""Which callback URLs we may call: never loopback, private, link-local or cloud-metadata hosts.

Checked twice: when a replyUrl is accepted (a clear 400 early) and right before each delivery
(DNS may have changed in between).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from taxiway.core.fields import NUL, SPACE

# What a replyUrl looks like, stated in the OpenAPI document and checked before check_syntax: every
# URL it matches passes check_syntax (whose urlsplit validates a bracketed IPv6 host, hence the
# IPv6 grammar; the IPv4-in-IPv6 and zone forms are left out).
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})"
_GROUP = "[0-9A-Fa-f]{1,4}"
_IPV6 = "|".join(
    [
        f"(?:{_GROUP}:){{7}}{_GROUP}",
        f"(?:{_GROUP}:){{1,7}}:",
        *(f"(?:{_GROUP}:){{1,{7 - tail}}}(?::{_GROUP}){{1,{tail}}}" for tail in range(1, 7)),
        f":(?:(?::{_GROUP}){{1,7}}|:)",
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

_BLOCKED_NAMES = {"localhost", "metadata", "metadata.google.internal", "metadata.goog"}
# Cloud metadata services outside the private and link-local ranges.
_METADATA_IPS = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}


class CallbackRefused(Exception):
    """The URL may not receive callbacks; the message says why."""


class PrivateCallbackAddress(CallbackRefused):
    """The host is local, private or a metadata service (allowed by TAXIWAY_ALLOW_PRIVATE_CALLBACKS)."""


class CallbackUnresolvable(CallbackRefused):
    """The host did not resolve now; admission lets this pass, delivery retries it later."""


def _refused_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
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


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise CallbackRefused unless `url` is an http(s) URL of a public host (every address checked)."""
    _, host = check_syntax(url)
    if allow_private:
        return
    if host in _BLOCKED_NAMES or host.endswith(".localhost") or host.endswith(".internal"):
        raise PrivateCallbackAddress(f"host {host} is a local or metadata host")
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        reason = _refused_ip(literal)
        if reason:
            raise PrivateCallbackAddress(f"host {host} is {reason}")
        return
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise CallbackUnresolvable(f"host {host} could not be resolved ({exc})") from None
    for info in infos:
        reason = _refused_ip(ipaddress.ip_address(info[4][0]))
        if reason:
            raise PrivateCallbackAddress(f"host {host} resolves to {reason}")
