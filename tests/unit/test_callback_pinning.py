"""Pinned callback posts: the checked address is dialled, the name is the Host, SNI and certificate name."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from taxiway.webhooks.addresses import CallbackTarget
from taxiway.webhooks.pinned import pinned_client, post_pinned

NAME = "hooks.example"


class Endpoint:
    """A local HTTP(S) server that records each request's Host header and TLS server name."""

    def __init__(self, tls: ssl.SSLContext | None = None, redirect_to: str | None = None) -> None:
        self.hosts: list[str] = []
        self.server_names: list[str | None] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                endpoint.hosts.append(self.headers["Host"])
                self.send_response(302 if redirect_to else 200)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: endpoint.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for NAME only (no IP address in it) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={NAME}",
         "-addext", f"subjectAltName=DNS:{NAME}",
         "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_endpoint(certificate: tuple[Path, Path]) -> Iterator[Endpoint]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    endpoint = Endpoint(tls=context)
    yield endpoint
    endpoint.close()


def trusting(certificate: tuple[Path, Path]) -> httpx.Client:
    return pinned_client(5.0, verify=ssl.create_default_context(cafile=str(certificate[0])))


def test_https_goes_to_the_checked_address_with_the_name_as_sni_host_and_certificate_name(
    tls_endpoint: Endpoint, certificate: tuple[Path, Path]
) -> None:
    url = f"https://{NAME}:{tls_endpoint.port}/hook"
    with trusting(certificate) as client:
        # NAME is in no resolver here: only the checked address can be reached.
        response = post_pinned(client, CallbackTarget(url, ("127.0.0.1",)), b"{}", {})
    assert response.status_code == 200
    assert tls_endpoint.server_names == [NAME]
    assert tls_endpoint.hosts == [f"{NAME}:{tls_endpoint.port}"]


def test_the_certificate_must_match_the_name_not_the_address(
    tls_endpoint: Endpoint, certificate: tuple[Path, Path]
) -> None:
    url = f"https://other.example:{tls_endpoint.port}/hook"
    with (
        trusting(certificate) as client,
        pytest.raises(httpx.ConnectError, match="certificate verify failed"),
    ):
        post_pinned(client, CallbackTarget(url, ("127.0.0.1",)), b"{}", {})
    assert tls_endpoint.hosts == []


def test_the_next_checked_address_is_tried_when_one_refuses_the_connection() -> None:
    endpoint = Endpoint()
    try:
        url = f"http://{NAME}:{endpoint.port}/hook"
        with pinned_client(5.0) as client:
            # Nothing listens on 127.0.0.2 at that port.
            response = post_pinned(client, CallbackTarget(url, ("127.0.0.2", "127.0.0.1")), b"{}", {})
        assert response.status_code == 200
        assert endpoint.hosts == [f"{NAME}:{endpoint.port}"]
    finally:
        endpoint.close()


def test_a_redirect_is_not_followed() -> None:
    elsewhere = Endpoint()
    redirecting = Endpoint(redirect_to=f"http://127.0.0.1:{elsewhere.port}/internal")
    try:
        url = f"http://{NAME}:{redirecting.port}/hook"
        with pinned_client(5.0) as client:
            response = post_pinned(client, CallbackTarget(url, ("127.0.0.1",)), b"{}", {})
        assert response.status_code == 302  # the deliverer records it as a failed try
        assert elsewhere.hosts == []
    finally:
        redirecting.close()
        elsewhere.close()
