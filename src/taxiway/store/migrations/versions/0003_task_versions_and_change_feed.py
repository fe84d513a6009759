"""task versions and the change feed of tasks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10 09:00:00

Every change of a column that the task JSON shows bumps tasks.version and gives the row a new
change_seq, in a trigger, so no write (ORM, bulk UPDATE, an operator's SQL) can forget it. The
event streams read them (see taxiway.store.changes):

- SQLite: change_seq comes from a counter row (change_counters), bumped in the same transaction.
  SQLite has one writer at a time, so the numbers are given out in commit order.
- PostgreSQL: change_seq is the writing transaction's id (pg_current_xact_id). Those are not in
  commit order, so readers only trust rows below their snapshot's xmin: every transaction below
  it has ended, and any later change gets a larger id.

Existing rows keep version 1 and change_seq 0: older than any cursor a stream hands out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The columns task_json shows (artifacts are written with the status change that completes a task).
WATCHED = (
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
JSON_COLUMNS = ("options", "input_asset_ids", "error")  # PostgreSQL's json has no equality: as text

_SQLITE_NEXT = (
    "UPDATE change_counters SET value = value + 1 WHERE name = 'tasks';"
    " UPDATE tasks SET {version}change_seq = (SELECT value FROM change_counters WHERE name = 'tasks')"
    " WHERE id = NEW.id;"
)


def _sqlite_triggers() -> list[str]:
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in WATCHED)
    return [
        "CREATE TRIGGER tasks_change_insert AFTER INSERT ON tasks FOR EACH ROW BEGIN "
        + _SQLITE_NEXT.format(version="")
        + " END",
        # The trigger's own UPDATE sets neither listed column, so it does not fire itself.
        f"CREATE TRIGGER tasks_change_update AFTER UPDATE OF {', '.join(WATCHED)} ON tasks FOR EACH ROW "
        f"WHEN {changed} BEGIN " + _SQLITE_NEXT.format(version="version = OLD.version + 1, ") + " END",
    ]


def _postgresql_triggers() -> list[str]:
    def value(row: str, column: str) -> str:
        return f"{row}.{column}::text" if column in JSON_COLUMNS else f"{row}.{column}"

    changed = " OR ".join(f"{value('NEW', c)} IS DISTINCT FROM {value('OLD', c)}" for c in WATCHED)
    return [
        f"""CREATE FUNCTION taxiway_task_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
$$""",
        "CREATE TRIGGER tasks_change BEFORE INSERT OR UPDATE ON tasks "
        "FOR EACH ROW EXECUTE FUNCTION taxiway_task_change()",
    ]


def upgrade() -> None:
    op.add_column("tasks", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")))
    op.add_column(
        "tasks", sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
    )
    op.create_index("ix_tasks_change_seq", "tasks", ["change_seq"])
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(counters, [{"name": "tasks", "value": 0}])
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tasks_change ON tasks")
        op.execute("DROP FUNCTION IF EXISTS taxiway_task_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS tasks_change_insert")
        op.execute("DROP TRIGGER IF EXISTS tasks_change_update")
    op.drop_table("change_counters")
    op.drop_index("ix_tasks_change_seq", "tasks")
    op.drop_column("tasks", "change_seq")
    op.drop_column("tasks", "version")
