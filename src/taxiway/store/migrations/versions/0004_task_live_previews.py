"""a running task's live preview

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-17 09:00:00

tasks.preview_key names the blob of a running task's latest live preview still (its previewUrls).
The task JSON shows it, so the change triggers of 0003 watch it too: a new still bumps the task's
version and change_seq, and event streams send it. The triggers are rebuilt with the longer list
(written out here rather than imported from 0003, so that each migration stays what it was).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# 0003's list of the columns task_json shows.
WATCHED_0003 = (
    "name",
    "options",
    "input_asset_ids",
    "engine",
    "status",
    "error",
    "progress_text",
    "progress_ratio",
    "estimated_time_to_start",
    "reply_url",
    "reply_ref",
    "updated_at",
)
WATCHED = (*WATCHED_0003, "preview_key")
JSON_COLUMNS = ("options", "input_asset_ids", "error")  # PostgreSQL's json has no equality: as text

_SQLITE_NEXT = (
    "UPDATE change_counters SET value = value + 1 WHERE name = 'tasks';"
    " UPDATE tasks SET version = OLD.version + 1, change_seq = (SELECT value FROM change_counters"
    " WHERE name = 'tasks') WHERE id = NEW.id;"
)


def _sqlite_update_trigger(watched: tuple[str, ...]) -> str:
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in watched)
    # The trigger's own UPDATE sets no listed column, so it does not fire itself.
    return (
        f"CREATE TRIGGER tasks_change_update AFTER UPDATE OF {', '.join(watched)} ON tasks FOR EACH ROW "
        f"WHEN {changed} BEGIN {_SQLITE_NEXT} END"
    )


def _postgresql_function(watched: tuple[str, ...]) -> str:
    def value(row: str, column: str) -> str:
        return f"{row}.{column}::text" if column in JSON_COLUMNS else f"{row}.{column}"

    changed = " OR ".join(f"{value('NEW', c)} IS DISTINCT FROM {value('OLD', c)}" for c in watched)
    return f"""CREATE OR REPLACE FUNCTION taxiway_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.version := 1;
    ELSIF {changed} THEN
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := OLD.version;
        NEW.change_seq := OLD.change_seq;
        RETURN NEW;
    END IF;
    NEW.change_seq := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$"""


def _watch(watched: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(watched))  # the trigger calls it by name: replaced in place
    else:
        op.execute("DROP TRIGGER IF EXISTS tasks_change_update")
        op.execute(_sqlite_update_trigger(watched))


def upgrade() -> None:
    # Plain ADD COLUMN, like 0002: no table copy on SQLite (its triggers and foreign keys stay).
    op.add_column("tasks", sa.Column("preview_key", sa.String(length=500), nullable=True))
    _watch(WATCHED)


def downgrade() -> None:
    _watch(WATCHED_0003)
    op.drop_column("tasks", "preview_key")
