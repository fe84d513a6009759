"""Absolute, expiring download links for blobs: the store's own (S3), else signed API links."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from taxiway.blobs.base import BlobStore
from taxiway.core.security import LinkSigner

FILES_PREFIX = "/v1/runwayml/files/"
API_PREFIX = "/v1/runwayml"


def event_stream_key(user_id: str, task_id: str | None, email: str | None) -> str:
    """What a signed stream link's signature covers: whose stream, which task (or all, of which
    account). It starts with a NUL, which no blob key holds, so no file link signs a stream."""
    return f"\x00events\n{user_id}\n{task_id or ''}\n{email or ''}"


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

    def event_stream(
        self, user_id: str, seconds: int, *, task: tuple[str, str] | None = None, email: str | None = None
    ) -> tuple[str, int]:
        """A signed link to one task's event stream (``task``: its taskId and row id) or to all of
        the user's tasks (of the account ``email``), valid for ``seconds``; and when it expires."""
        task_ref, task_id = task if task is not None else (None, None)
        expires, signature = self._signer.sign_for(event_stream_key(user_id, task_id, email), seconds)
        query = (
            {"user": user_id}
            | ({"email": email} if email else {})
            | {
                "expires": expires,
                "signature": signature,
            }
        )
        path = (
            f"{API_PREFIX}/tasks/{quote(task_ref, safe=':@')}/events" if task_ref else f"{API_PREFIX}/events"
        )
        return f"{self.base_url}{path}?{urlencode(query)}", expires
