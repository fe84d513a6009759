"""Absolute, expiring download links for blobs."""

from __future__ import annotations

from urllib.parse import quote

from taxiway.core.security import LinkSigner

FILES_PREFIX = "/v1/runwayml/files/"


class Links:
    """Builds signed links against one base URL (the request's, or the public one for callbacks)."""

    def __init__(self, signer: LinkSigner, base_url: str) -> None:
        self._signer = signer
        self.base_url = base_url.rstrip("/")

    def blob(self, key: str | None) -> str | None:
        if not key:
            return None
        expires, signature = self._signer.sign(key)
        return f"{self.base_url}{FILES_PREFIX}{quote(key)}?expires={expires}&signature={signature}"

    def blobs(self, keys: list[str] | None) -> list[str]:
        return [url for url in (self.blob(key) for key in keys or []) if url]
