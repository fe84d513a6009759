"""Send a callback to the addresses that were checked, never to a second lookup of the name.

The URL's host is swapped for a checked address; the name still goes in the Host header and, over
https, is the TLS server name (SNI) and the name the certificate must match (httpcore's
`sni_hostname` request extension), so the receiver sees exactly the request it would otherwise.
"""

from __future__ import annotations

import ssl

import httpx

from taxiway.webhooks.addresses import CallbackTarget


def pinned_client(timeout: float, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """The deliverer's client: no redirects, no proxy, no connection kept for a later callback."""
    # A proxy from the environment would look the name up again itself, so the transport is explicit
    # (httpx then takes no proxy from the environment). Pooled connections are keyed by the address
    # we connect to: one kept alive could carry a later callback for another name at that address
    # over a TLS session verified for the first, so none is kept.
    transport = httpx.HTTPTransport(verify=verify, limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)


def post_pinned(
    client: httpx.Client, target: CallbackTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST `body` to the target's checked addresses in turn until one connects (as a socket would)."""
    url = httpx.URL(target.url)
    headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")}  # only https uses it
    failure: httpx.TransportError | None = None
    for address in target.addresses:
        try:
            return client.post(
                url.copy_with(host=address), content=body, headers=headers, extensions=extensions
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing sent: try the next one
            failure = exc
    raise failure or httpx.ConnectError(f"no address to connect to for {url.host}")
