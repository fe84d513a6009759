"""asset groups, content hashes and per-account storage quotas

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 08:00:00

An upload starts an asset group and everything derived from it joins that group; existing assets
each become their own group. Uploads record their SHA-256 (older assets have none). Existing
accounts get the 500 GB default quota.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT_QUOTA_BYTES = 500 * 10**9


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no batch copy): on SQLite a table copy would have to drop
    # tables that others reference, which its foreign keys refuse.
    op.add_column("assets", sa.Column("group_id", sa.String(length=36), nullable=True))
    op.create_index("ix_assets_group_id", "assets", ["group_id"])
    op.execute("UPDATE assets SET group_id = id")
    op.add_column("assets", sa.Column("content_sha256", sa.String(length=64), nullable=True))
    op.create_index("ix_assets_content_sha256", "assets", ["content_sha256"])
    op.add_column(
        "accounts",
        sa.Column(
            "storage_quota_bytes",
            sa.BigInteger(),
            nullable=False,
            server_default=sa.text(str(DEFAULT_QUOTA_BYTES)),
        ),
    )


def downgrade() -> None:
    op.drop_column("accounts", "storage_quota_bytes")
    op.drop_index("ix_assets_content_sha256", "assets")
    op.drop_column("assets", "content_sha256")
    op.drop_index("ix_assets_group_id", "assets")
    op.drop_column("assets", "group_id")
