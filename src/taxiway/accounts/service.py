"""Accounts: a user's billing and concurrency buckets (the contract's "Runway accounts")."""

from __future__ import annotations

import math
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from taxiway.accounts.storage import GB, gb, used_bytes
from taxiway.core.db import Database
from taxiway.core.errors import BadRequest, Conflict, NotFound
from taxiway.core.fields import NUL, SPACE, FieldSpec, python_pattern, validate_fields
from taxiway.core.json_schema import INTEGER, NUMBER, STRING, TIMESTAMP, closed, described, enum, nullable
from taxiway.core.settings import Settings
from taxiway.core.timestamps import iso
from taxiway.store.live import live_task_count
from taxiway.store.models import Account, User, utcnow
from taxiway.webhooks.addresses import (
    CALLBACK_URL_HINT,
    CALLBACK_URL_PATTERN,
    CallbackRefused,
    CallbackUnresolvable,
    PrivateCallbackAddress,
    check_callback_url,
)

PLANS = ("standard", "unlimited")
# Read alike by Python and JSON Schema: the OpenAPI document states it for every email field.
EMAIL_PATTERN = rf"^[^@{SPACE}{NUL}/\\?#]+@[^@{SPACE}{NUL}/\\?#]+$"
EMAIL_HINT = "an email address like name@example.com"
MAX_EMAIL_LENGTH = 254
_EMAIL = re.compile(python_pattern(EMAIL_PATTERN))

ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "email",
        "string",
        "The account's email; must match the one in the path.",
        required=True,
        max_length=MAX_EMAIL_LENGTH,
        pattern=EMAIL_PATTERN,
        pattern_hint=EMAIL_HINT,
    ),
    FieldSpec(
        "maxJobs", "integer", "How many tasks may be live at once.", required=True, minimum=1, maximum=10
    ),
    FieldSpec(
        "replyUrl",
        "string",
        "Default callback URL for this account's tasks.",
        max_length=1024,
        pattern=CALLBACK_URL_PATTERN,
        pattern_hint=CALLBACK_URL_HINT,
    ),
)


def check_email(email: str) -> str:
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise BadRequest(f"email {email!r} is not a valid email address")
    return email


def check_reply_url(url: str | None, settings: Settings, field: str = "replyUrl") -> None:
    if not url:
        return
    try:
        check_callback_url(url, allow_private=settings.allow_private_callbacks)
    except CallbackUnresolvable:
        pass  # may resolve later: each delivery looks it up again, and retries while it does not
    except PrivateCallbackAddress as exc:
        raise BadRequest(
            f"{field} {exc}; callbacks to local and private addresses are refused "
            "unless the operator sets TAXIWAY_ALLOW_PRIVATE_CALLBACKS=1"
        ) from None
    except CallbackRefused as exc:
        raise BadRequest(f"{field} {exc}") from None


def account_json(account: Account) -> dict[str, Any]:
    return {
        "email": account.email,
        "maxJobs": account.max_jobs,
        "replyUrl": account.reply_url,
        "plan": account.plan,
        "credits": {
            "permitted": account.credits_permitted,
            "used": account.credits_used,
            "available": account.credits_permitted - account.credits_used,
        },
        "createdAt": iso(account.created_at),
    }


def task_features_json(account: Account) -> dict[str, Any]:
    """The ``features`` object every task carries, as the contract's pages show it."""
    return {
        "storageGB": gb(account.storage_quota_bytes),
        "numPlanCredits_permitted": account.credits_permitted,
        "numPlanCredits_used": account.credits_used,
    }


def features_json(session: Session, account: Account) -> dict[str, Any]:
    """GET /features: credits permitted and used, the storage quota and what is used of it."""
    return {
        "email": account.email,
        "plan": account.plan,
        "permitted": {"numPlanCredits": account.credits_permitted},
        "used": {"numPlanCredits": account.credits_used},
        **task_features_json(account),
        "storageUsedGB": gb(used_bytes(session, account.id)),
    }


# The schemas of what the three functions above send (OpenAPI components Account, TaskFeatures, Features).

ACCOUNT_SCHEMA = closed(
    {
        "email": STRING,
        "maxJobs": INTEGER,
        "replyUrl": nullable(STRING),
        "plan": enum(PLANS),
        "credits": closed({"permitted": INTEGER, "used": INTEGER, "available": INTEGER}),
        "createdAt": TIMESTAMP,
    }
)
_TASK_FEATURES = {
    "storageGB": described(NUMBER, "The account's storage quota, in GB (10⁹ bytes)."),
    "numPlanCredits_permitted": INTEGER,
    "numPlanCredits_used": INTEGER,
}
TASK_FEATURES_SCHEMA = closed(_TASK_FEATURES)
FEATURES_SCHEMA = closed(
    {
        "email": STRING,
        "plan": enum(PLANS),
        "permitted": closed({"numPlanCredits": INTEGER}),
        "used": closed({"numPlanCredits": INTEGER}),
        **_TASK_FEATURES,
        "storageUsedGB": described(NUMBER, "What the account's assets take, in GB."),
    }
)


def adjust_credits_used(session: Session, account_id: int, delta: int) -> None:
    """Charge (delta > 0) or refund (delta < 0) atomically in the database, never read-modify-write."""
    session.execute(
        update(Account).where(Account.id == account_id).values(credits_used=Account.credits_used + delta)
    )


def upsert_account(
    db: Database, settings: Settings, user_id: str, path_email: str, body: dict[str, Any]
) -> Account:
    """POST accounts/{email}: create the account, or update maxJobs/replyUrl of an existing one."""
    check_email(path_email)
    values = validate_fields(ACCOUNT_FIELDS, body)
    if values["email"] != path_email:
        raise BadRequest(
            f"email in the body ({values['email']}) must match the email in the URL path ({path_email})"
        )
    check_reply_url(values["replyUrl"], settings)
    with db.write() as session:
        account = session.scalar(
            select(Account).where(Account.user_id == user_id, Account.email == path_email)
        )
        if account is None:
            account = Account(
                user_id=user_id,
                email=path_email,
                max_jobs=values["maxJobs"],
                reply_url=values["replyUrl"],
                credits_permitted=settings.default_credits,
                plan=settings.default_plan,
                storage_quota_bytes=round(settings.default_storage_gb * GB),
            )
            session.add(account)
        else:
            account.max_jobs = values["maxJobs"]
            account.reply_url = values["replyUrl"]
            account.deleted_at = None
        session.flush()
        return account


def active_accounts(session: Session, user_id: str) -> list[Account]:
    return list(
        session.scalars(
            select(Account)
            .where(Account.user_id == user_id, Account.deleted_at.is_(None))
            .order_by(Account.id)
        )
    )


def require_accounts(session: Session, user_id: str) -> list[Account]:
    """The user's accounts; a clear 400 when there is none yet."""
    accounts = active_accounts(session, user_id)
    if not accounts:
        raise BadRequest("No accounts configured. To create one use POST /v1/runwayml/accounts/{email}.")
    return accounts


def get_account(session: Session, user_id: str, email: str) -> Account:
    # What is not an email names no account (and a NUL in it would not even reach PostgreSQL).
    account = (
        session.scalar(
            select(Account).where(
                Account.user_id == user_id, Account.email == email, Account.deleted_at.is_(None)
            )
        )
        if _EMAIL.match(email)
        else None
    )
    if account is None:
        raise NotFound(
            f"Configuration not found for {email}. To create configuration use POST /accounts/{email}."
        )
    return account


def account_for_query(session: Session, user_id: str, email: str | None) -> Account:
    """The account a query names; with no email, the only one (several need an email)."""
    if email:
        return get_account(session, user_id, email)
    accounts = require_accounts(session, user_id)
    if len(accounts) > 1:
        emails = ", ".join(account.email for account in accounts)
        raise BadRequest(f"email is required when several accounts are configured ({emails})")
    return accounts[0]


def delete_account(db: Database, user_id: str, email: str) -> None:
    """Remove an account. Its assets and finished tasks stay; live tasks must finish first."""
    with db.write() as session:
        account = get_account(session, user_id, email)
        live = live_task_count(session, account.id)
        if live:
            raise Conflict(
                f"Account {email} has {live} live task(s); cancel them or wait for them before deleting it"
            )
        account.deleted_at = utcnow()


def _account_for_admin(session: Session, email: str, user_name: str | None) -> Account:
    query = select(Account).where(Account.email == email, Account.deleted_at.is_(None))
    if user_name:
        query = query.join(User, User.id == Account.user_id).where(User.name == user_name)
    accounts = list(session.scalars(query.with_for_update(of=Account)))
    if not accounts:
        owner = f" of user {user_name}" if user_name else ""
        raise NotFound(f"No account {email}{owner}; create it with POST /v1/runwayml/accounts/{email}")
    if len(accounts) > 1:
        raise BadRequest(f"Several users have an account {email}; name the user with --user")
    return accounts[0]


def grant_credits(db: Database, email: str, amount: int, user_name: str | None = None) -> Account:
    with db.write() as session:
        account = _account_for_admin(session, email, user_name)
        account.credits_permitted += amount
        return account


def set_storage_quota(db: Database, email: str, gigabytes: float, user_name: str | None = None) -> Account:
    if not math.isfinite(gigabytes) or gigabytes < 0:
        raise BadRequest(f"a storage quota is a number of GB, 0 or more, not {gigabytes}")
    with db.write() as session:
        account = _account_for_admin(session, email, user_name)
        account.storage_quota_bytes = round(gigabytes * GB)
        return account


def set_plan(db: Database, email: str, plan: str, user_name: str | None = None) -> Account:
    if plan not in PLANS:
        raise BadRequest(f"plan must be one of {', '.join(PLANS)}")
    with db.write() as session:
        account = _account_for_admin(session, email, user_name)
        account.plan = plan
        return account
