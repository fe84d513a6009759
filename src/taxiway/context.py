"""The process-wide services, built once from Settings by the app factory or a command."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from taxiway.blobs.base import BlobStore, BlobStoreUnavailable
from taxiway.blobs.factory import open_blob_store
from taxiway.blobs.links import Links
from taxiway.core.db import Database
from taxiway.core.scratch import sweep
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


class StartupError(RuntimeError):
    """A configured service (data directory, blob store, database) cannot be used."""


def _open_database(settings: Settings, run_migrations: bool) -> Database:
    url = settings.resolved_database_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError as exc:
        raise StartupError(f"the database URL is not valid: {exc}") from exc
    try:
        db = Database(url)  # loads the driver; connects only when used
    except ModuleNotFoundError as exc:
        raise StartupError(f"the database {shown} needs a driver that is not installed: {exc}") from exc
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StartupError(f"the database URL {shown} cannot be used: {exc}") from exc
    try:
        if run_migrations:
            migrate(db)  # the first connection: an unreachable server fails here
    except OperationalError as exc:
        db.dispose()
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StartupError(f"the database {shown} cannot be reached: {reason}") from exc
    return db


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
        """The services, checked usable: StartupError says which one is not, and why."""
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            settings.scratch_dir.mkdir(parents=True, exist_ok=True)
            sweep(settings.scratch_dir / "uploads")  # what a server killed mid-upload left
            signer = LinkSigner(_load_secret_key(settings), settings.signed_url_ttl_seconds)
        except OSError as exc:
            raise StartupError(f"the data directory {settings.data_dir} cannot be used: {exc}") from exc
        # The store first: a missing bucket stops startup before the database is touched.
        try:
            blobs = open_blob_store(settings)
        except BlobStoreUnavailable as exc:
            raise StartupError(str(exc)) from exc
        db = _open_database(settings, run_migrations)
        return cls(settings=settings, db=db, blobs=blobs, signer=signer)

    def links(self, base_url: str | None = None) -> Links:
        return Links(self.signer, base_url or self.settings.resolved_public_url, self.blobs)

    def close(self) -> None:
        self.db.dispose()
