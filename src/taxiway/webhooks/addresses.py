"""Which callback URLs we may call: never loopback, private, link-local or cloud-metadata hosts.

Checked twice: when a replyUrl is accepted (a clear 400 early) and right before each delivery
(DNS may have changed in between).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

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
        raise CallbackRefused("must be an absolute http:// or https:// URL")
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
