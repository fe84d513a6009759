"""Per-account storage quotas: what ``features.storageGB`` reports, and the check that every upload
and every artifact passes before it is recorded.

Usage is the sum of the account's assets' file sizes (uploads and artifacts; previews are not
counted). A GB here is 10⁹ bytes, as storage is sold.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taxiway.core.db import is_read_only
from taxiway.core.errors import ApiError
from taxiway.store.models import Account, Asset

GB = 10**9


def gb(size: int) -> float | int:
    """Bytes as GB, to the MB (what responses and messages show): 500, not 500.0."""
    value = round(size / GB, 3)
    return int(value) if value.is_integer() else value


def used_bytes(session: Session, account_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(Asset.file_size), 0)).where(Asset.account_id == account_id)
        )
        or 0
    )


class StorageQuotaExceeded(ApiError):
    """413: the file would take the account over its storage quota."""

    REASON = "STORAGE_QUOTA_EXCEEDED"

    def __init__(self, account: Account, used: int, adding: int, what: str) -> None:
        super().__init__(
            413,
            f"{what} of {gb(adding)} GB would exceed the storage quota of account {account.email}: "
            f"{gb(used)} GB used of {gb(account.storage_quota_bytes)} GB allowed. Delete assets "
            "(DELETE /v1/runwayml/assets/{assetId}) or ask the operator to raise the quota "
            f"(`taxiway admin account storage {account.email} GB`).",
            {"storageUsedGB": gb(used), "storageGB": gb(account.storage_quota_bytes)},
        )


def check_fits(account: Account, used: int, adding: int, what: str = "This upload") -> None:
    """Raise StorageQuotaExceeded unless ``adding`` more bytes fit beside the ``used`` ones."""
    if used + adding > account.storage_quota_bytes:
        raise StorageQuotaExceeded(account, used, adding, what)


def check_room(session: Session, account: Account, adding: int, what: str = "This upload") -> None:
    """Raise StorageQuotaExceeded unless ``adding`` more bytes fit in ``account``'s quota.

    The caller holds the account's row lock, so two files cannot both take the last room.
    """
    check_fits(account, used_bytes(session, account.id), adding, what)


def lock_account(session: Session, account_id: int) -> Account:
    """The account's row, locked for the rest of the transaction (re-read now that it is)."""
    if session.get_bind().dialect.name == "sqlite" and not is_read_only(session):
        # A write transaction on SQLite has held the database's write lock since its BEGIN
        # IMMEDIATE: what it has read is current, and a row it has loaded needs no second read.
        account = session.get(Account, account_id)
        if account is not None:
            return account
    return session.scalars(
        select(Account)
        .where(Account.id == account_id)
        .with_for_update(of=Account)
        .execution_options(populate_existing=True)
    ).one()
