"""The process-wide services, built once from Settings by the app factory or a command."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from taxiway.blobs.base import BlobStore
from taxiway.blobs.factory import open_blob_store
from taxiway.core.db import Database
from taxiway.core.links import Links
from taxiway.core.security import LinkSigner
from taxiway.core.settings import Settings
from taxiway.engines.devices import Devices
from taxiway.store.migrate import migrate


def _load_secret_key(settings: Settings) -> bytes:
    """The key that signs download links: from settings, else created once in the data folder."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        candidate = path.with_suffix(".tmp")
        candidate.write_text(secrets.token_hex(32))
        candidate.chmod(0o600)
        try:
            # A hard link fails if another process created the key first: then theirs wins.
            _link_once(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
    return path.read_text().strip().encode()


def _link_once(source: Path, target: Path) -> None:
    with contextlib.suppress(FileExistsError):
        target.hardlink_to(source)


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    signer: LinkSigner
    # Where this server's workers run neural engines (probed lazily, at most once).
    devices: Devices = field(init=False)

    def __post_init__(self) -> None:
        self.devices = Devices(self.settings)

    @classmethod
    def build(cls, settings: Settings, *, run_migrations: bool = True) -> AppContext:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        # The store first: a missing bucket stops startup before the database is touched.
        blobs = open_blob_store(settings)
        db = Database(settings.resolved_database_url)
        if run_migrations:
            migrate(db)
        signer = LinkSigner(_load_secret_key(settings), settings.signed_url_ttl_seconds)
        return cls(settings=settings, db=db, blobs=blobs, signer=signer)

    def links(self, base_url: str | None = None) -> Links:
        return Links(self.signer, base_url or self.settings.resolved_public_url, self.blobs)

    def close(self) -> None:
        self.db.dispose()
