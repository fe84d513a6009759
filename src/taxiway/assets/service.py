"""Assets: uploaded media and task artifacts, each owned by one account of one user."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.accounts.service import get_account, require_accounts
from taxiway.accounts.storage import check_room, lock_account
from taxiway.blobs.stored_media import store_media
from taxiway.context import AppContext
from taxiway.core import ids
from taxiway.core.errors import BadRequest, Conflict, NotFound
from taxiway.media.probe import MediaError, MediaKind
from taxiway.store.live import live_counts_by_account, live_tasks
from taxiway.store.models import Account, Asset

# Content-Type -> (kind, file extension): what the contract accepts for upload.
CONTENT_TYPES: dict[str, tuple[MediaKind, str]] = {
    "video/mp4": ("video", "mp4"),
    "video/quicktime": ("video", "mov"),
    "video/webm": ("video", "webm"),
    "video/x-matroska": ("video", "mkv"),
    "video/x-msvideo": ("video", "avi"),
    "video/mpeg": ("video", "mpeg"),
    "image/png": ("image", "png"),
    "image/jpeg": ("image", "jpg"),
    "image/webp": ("image", "webp"),
}
MAX_NAME_LENGTH = 500


def parse_content_type(header: str | None) -> tuple[str, MediaKind, str]:
    """(content type, kind, extension) of an upload's Content-Type header, or a clear 400."""
    content_type = (header or "").split(";")[0].strip().lower()
    if not content_type:
        raise BadRequest(
            "A Content-Type header is required: send the file as the raw body with its media type, one "
            "of: " + ", ".join(CONTENT_TYPES)
        )
    if content_type not in CONTENT_TYPES:
        raise BadRequest(
            f"Content-Type {content_type!r} is not supported for assets; send the file as the raw body "
            "with one of: " + ", ".join(CONTENT_TYPES)
        )
    kind, extension = CONTENT_TYPES[content_type]
    return content_type, kind, extension


def choose_upload_account(session: Session, user_id: str, email: str | None) -> Account:
    """The named account, else the user's account with the most free capacity."""
    if email:
        return get_account(session, user_id, email)
    accounts = require_accounts(session, user_id)
    live = live_counts_by_account(session, user_id)
    return max(accounts, key=lambda account: (account.max_jobs - live.get(account.id, 0), -account.id))


def create_uploaded_asset(
    ctx: AppContext,
    *,
    user_id: str,
    account_id: int,
    name: str,
    content_type: str,
    kind: MediaKind,
    upload: Path,
    sha256: str | None = None,
) -> Asset:
    """Turn a fully received upload into an asset: probe, previews, blobs, then the row."""
    asset_id = ids.new_uuid()
    key_prefix = f"assets/{asset_id}"
    try:
        stored = store_media(
            ctx.blobs,
            upload,
            kind=kind,
            content_type=content_type,
            key_prefix=key_prefix,
            basename="source",
            scratch_dir=upload.parent,  # the upload's own working directory
            max_pixels=ctx.settings.max_video_pixels,
        )
    except MediaError as exc:
        ctx.blobs.delete_prefix(key_prefix)
        raise BadRequest(f"The uploaded file was refused: {exc}") from None
    except BaseException:
        ctx.blobs.delete_prefix(key_prefix)
        raise
    try:
        with ctx.db.write() as session:
            check_room(session, lock_account(session, account_id), stored.size)
            asset = Asset(
                id=asset_id,
                user_id=user_id,
                account_id=account_id,
                name=name,
                is_user_upload=True,
                group_id=asset_id,  # an upload starts its own group
                content_sha256=sha256,
                **stored.asset_columns(),
            )
            session.add(asset)
            session.flush()
            session.refresh(asset)  # loads the account relationship for the response
            return asset
    except BaseException:
        ctx.blobs.delete_prefix(key_prefix)
        raise


def parse_asset_ref(value: object, field: str) -> str:
    """The asset row id inside an assetId (or bare uuid); a clear 400 when it is malformed."""
    row_id = ids.parse("asset", value) if isinstance(value, str) else None
    if row_id is None:
        raise BadRequest(f"{field} is malformed: expected {ids.ref_hint('asset')}")
    return row_id


def get_owned_asset(
    session: Session, user_id: str, ref: str, field: str = "assetId", missing_word: str | None = None
) -> Asset:
    """The caller's asset named by `ref`; another user's asset is exactly as missing as no asset.
    ``missing_word``: what the 404 calls the field, where the contract words it otherwise."""
    row_id = parse_asset_ref(ref, field)
    asset = session.get(Asset, row_id)
    if asset is None or asset.user_id != user_id or not _ref_matches(asset, ref):
        raise NotFound(f"Unable to retrieve {missing_word or field} {ref} (Not found.)")
    return asset


def _ref_matches(asset: Asset, ref: str) -> bool:
    """A composite id must name the asset's own user and account; a bare uuid is enough alone."""
    if ref.strip().lower() == asset.id:
        return True
    return ref.strip() == ids.compose("asset", asset.user_id, asset.account.email, asset.id)


def list_assets(
    session: Session,
    user_id: str,
    *,
    offset: int,
    limit: int,
    media_type: Literal["video", "image"] | None,
    email: str | None,
    group_id: str | None = None,
    sha256: str | None = None,
) -> list[Asset]:
    query = select(Asset).where(Asset.user_id == user_id)
    if media_type:
        query = query.where(Asset.media_type == media_type)
    if group_id:
        query = query.where(Asset.group_id == group_id.strip().lower())
    if sha256:  # "has it been uploaded?": only to accounts that can still use it
        query = query.join(Account, Account.id == Asset.account_id).where(
            Asset.content_sha256 == sha256.strip().lower(), Account.deleted_at.is_(None)
        )
    if email:
        query = query.where(Asset.account_id == get_account(session, user_id, email).id)
    query = query.order_by(Asset.created_at.desc(), Asset.id).offset(offset).limit(limit)
    return list(session.scalars(query))


def delete_asset(ctx: AppContext, user_id: str, ref: str) -> None:
    """Delete an asset and its files, unless a live task still needs it as input."""
    with ctx.db.write() as session:
        asset = get_owned_asset(session, user_id, ref)
        for task in live_tasks(session, user_id=user_id):
            if asset.id in (task.input_asset_ids or {}).values():
                task_ref = ids.compose("task", task.user_id, task.account.email, task.id)
                raise Conflict(f"Asset is an input of live task {task_ref}; cancel it or wait for it first")
        keys = [asset.blob_key, *asset.preview_keys]
        session.delete(asset)
    # Files go after the row: a crash in between leaves orphan files, never a row without files.
    for key in keys:
        ctx.blobs.delete(key)
