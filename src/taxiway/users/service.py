"""Users and their API tokens (only hashes are stored; a token is shown once, at creation)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from taxiway.core.db import Database
from taxiway.core.errors import BadRequest, NotFound
from taxiway.core.security import hash_token, new_api_token, new_user_id, new_webhook_secret
from taxiway.store.models import ApiToken, User, utcnow


@dataclass(frozen=True)
class UserSummary:
    id: str
    name: str
    webhook_secret: str
    tokens: int


def _user_by_name(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"No user named {name!r}")
    return user


def create_user(db: Database, name: str) -> tuple[User, str]:
    """A new user and its first API token (returned in clear, never stored so)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise BadRequest("A user name must be 1 to 200 characters")
    with db.write() as session:
        if session.scalar(select(User).where(User.name == name)) is not None:
            raise BadRequest(f"A user named {name!r} already exists")
        user = User(id=new_user_id(), name=name, webhook_secret=new_webhook_secret())
        session.add(user)
        session.flush()  # the token row references the user row
        token = new_api_token()
        session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label="created with the user"))
        return user, token


def create_token(db: Database, name: str, label: str = "") -> str:
    with db.write() as session:
        user = _user_by_name(session, name)
        token = new_api_token()
        session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label))
        return token


def revoke_tokens(db: Database, name: str) -> int:
    """Revoke every token of a user; returns how many were live."""
    with db.write() as session:
        user = _user_by_name(session, name)
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return result.rowcount or 0


def list_users(db: Database) -> list[UserSummary]:
    with db.read() as session:
        users = list(session.scalars(select(User).order_by(User.created_at)))
        live_tokens = dict(
            session.execute(
                select(ApiToken.user_id, func.count())
                .where(ApiToken.revoked_at.is_(None))
                .group_by(ApiToken.user_id)
            ).all()
        )
        return [UserSummary(u.id, u.name, u.webhook_secret, live_tokens.get(u.id, 0)) for u in users]


def webhook_secret(db: Database, name: str) -> str:
    with db.read() as session:
        return _user_by_name(session, name).webhook_secret
