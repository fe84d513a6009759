"""Absolute, expiring download links for blobs: the store's own (S3), else signed API links."""

from __future__ import annotations

from urllib.parse import quote

from taxiway.blobs.base import BlobStore
from taxiway.core.security import LinkSigner

FILES_PREFIX = "/v1/runwayml/files/"


class Links:
    """Builds links against one base URL (the request's, or the public one for callbacks)."""

    def __init__(self, signer: LinkSigner, base_url: str, blobs: BlobStore) -> None:
        self._signer = signer
        self._blobs = blobs
        self.base_url = base_url.rstrip("/")

    def blob(self, key: str | None) -> str | None:
        if not key:
            return None
        direct = self._blobs.url_for(key)
        if direct:
            return direct
        expires, signature = self._signer.sign(key)
        return f"{self.base_url}{FILES_PREFIX}{quote(key)}?expires={expires}&signature={signature}"

    def blobs(self, keys: list[str] | None) -> list[str]:
        return [url for url in (self.blob(key) for key in keys or []) if url]
