"""SQLAlchemy models: the one source of truth about users, accounts, assets, tasks and callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UTCDateTime")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text: store them naive, all in UTC, so ordering holds.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Account(Base):
    """A billing and concurrency bucket of a user (a "Runway account" in the contract)."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("user_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    max_jobs: Mapped[int] = mapped_column(Integer)
    reply_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    plan: Mapped[str] = mapped_column(String(20), default="standard")  # standard | unlimited
    credits_permitted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_used: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bytes its assets (uploads and artifacts) may take; features.storageGB shows it in GB.
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger, default=500 * 10**9)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Deleting an account keeps its assets and tasks; creating it again brings them back.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (Index("ix_assets_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(10))  # video | image
    content_type: Mapped[str] = mapped_column(String(100))
    blob_key: Mapped[str] = mapped_column(String(500))
    preview_keys: Mapped[list[Any]] = mapped_column(default=list)
    file_size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float, default=None)
    frame_rate: Mapped[float | None] = mapped_column(Float, default=None)
    has_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    is_user_upload: Mapped[bool] = mapped_column(Boolean, default=True)
    # Artifacts: the task that produced this asset; extension lineage for gen3/extend limits.
    task_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    extended_count: Mapped[int] = mapped_column(Integer, default=0)
    # An upload starts a group; what is made from it joins it (options.parent_asset_group_id).
    group_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    # Hex SHA-256 of an upload's bytes as received: clients find an earlier upload of the same file.
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[Account] = relationship(lazy="joined", innerjoin=True)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status_created", "status", "created_at"),
        Index("ix_tasks_account_status", "account_id", "status"),
        Index("ix_tasks_user_created", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    operation: Mapped[str] = mapped_column(String(40))  # the endpoint, e.g. "videos/upscale"
    name: Mapped[str] = mapped_column(String(1000))
    params: Mapped[dict[str, Any]] = mapped_column()  # validated request, normalised
    options: Mapped[dict[str, Any]] = mapped_column()  # what the contract echoes back
    input_asset_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)  # role -> asset id
    engine: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[str] = mapped_column(String(12), default="PENDING")
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    progress_text: Mapped[str | None] = mapped_column(String(500), default=None)
    progress_ratio: Mapped[float | None] = mapped_column(Float, default=None)
    estimated_time_to_start: Mapped[float | None] = mapped_column(Float, default=0)
    reply_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    reply_ref: Mapped[str | None] = mapped_column(String(1024), default=None)
    explore_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    output_seconds: Mapped[float] = mapped_column(Float, default=0)
    cost: Mapped[int] = mapped_column(BigInteger, default=0)
    # Execution: `attempt` is the fencing token, bumped on every claim; only the holder of the
    # current attempt may report progress or results. `failed_attempts` counts crashes and
    # expired leases against settings.max_attempts.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_webhook_progress_at: Mapped[datetime | None] = mapped_column(default=None)
    # While RUNNING: the blob key of the current attempt's latest live preview still (previewUrls).
    preview_key: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set by database triggers (migration 0003), never by this code, so that no write can forget
    # them: `version` goes up by one on every change the task's JSON shows (the per-task event
    # stream's id), `change_seq` places the latest such change in the order of all tasks' changes
    # (the all-tasks stream's cursor; see store/changes.py).
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)

    account: Mapped[Account] = relationship(lazy="joined", innerjoin=True)


class ChangeCounter(Base):
    """The last task change_seq given out, on SQLite (PostgreSQL's triggers use transaction ids)."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookDelivery(Base):
    """One callback to send: written in the same transaction as the task change it reports."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(1024))
    payload: Mapped[str] = mapped_column(Text)
    terminal: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending|delivered|failed|dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
