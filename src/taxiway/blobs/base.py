"""The blob store interface: put, open, delete, and a link for downloads."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol


class BlobNotFound(Exception):
    pass


class BlobStoreUnavailable(RuntimeError):
    """The configured store cannot be used (bucket missing, endpoint unreachable, access denied)."""


class BlobStore(Protocol):
    def put_file(self, key: str, source: Path) -> int:
        """Store `source` under `key` (the source file is consumed); returns its size."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the blob's bytes, valid inside the context."""
        ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None:
        """Remove a blob; a missing one is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Remove `prefix` and every blob under `prefix/`."""
        ...

    def url_for(self, key: str) -> str | None:
        """A direct, expiring download link from the store itself, or None if the API serves the blob."""
        ...
