"""Where the client talks to and as whom: arguments first, then TAXIWAY_BASE_URL / TAXIWAY_API_TOKEN."""

from __future__ import annotations

import os
from dataclasses import dataclass

from taxiway import __version__
from taxiway.client.effects import OpenStream, Request
from taxiway.client.errors import TaxiwayError

API_PREFIX = "/v1/runwayml"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CHUNK_BYTES = 1024 * 1024


def normalise_base_url(url: str) -> str:
    """Accept the server root or the full API base; answer the API base (…/v1/runwayml)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise TaxiwayError(f"base URL must start with http:// or https://, got {url!r}")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


@dataclass(frozen=True)
class Connection:
    base_url: str
    token: str

    @classmethod
    def resolve(cls, base_url: str | None, token: str | None) -> Connection:
        token = token or os.environ.get("TAXIWAY_API_TOKEN", "")
        if not token:
            raise TaxiwayError("no API token: pass token=... or set TAXIWAY_API_TOKEN")
        return cls(
            normalise_base_url(base_url or os.environ.get("TAXIWAY_BASE_URL") or DEFAULT_BASE_URL), token
        )

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"taxiway-client/{__version__}",
        }

    def url(self, request: Request) -> str:
        return f"{self.base_url}/{request.path}"


def request_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    if request.upload is not None:
        headers["Content-Type"] = request.upload.content_type
        if request.upload.size is not None:
            # A known length lets the server refuse an oversized file before any byte is sent.
            headers["Content-Length"] = str(request.upload.size)
    return headers


def stream_headers(effect: OpenStream) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if effect.last_event_id is not None:
        headers["Last-Event-ID"] = effect.last_event_id
    return headers


def partial_path(target: str | os.PathLike[str]) -> str:
    """Downloads land beside their target and are renamed into place only when complete."""
    return f"{os.fspath(target)}.part"
