"""The Alembic migrations build exactly the schema the models declare, on both databases, and
a database made by the first migration (with rows in it) upgrades to the newest."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from taxiway.core.db import Database
from taxiway.store.migrate import alembic_config, migrate
from taxiway.store.models import Base


def _database(database_url: str, tmp_path: Path) -> Database:
    return Database(database_url or f"sqlite:///{tmp_path / 'schema.db'}")


def test_migrations_match_the_models(database_url: str, tmp_path: Path) -> None:
    db = _database(database_url, tmp_path)
    migrate(db)
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_an_existing_database_upgrades_with_its_rows(tmp_path: Path) -> None:
    db = _database("", tmp_path)
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO users (id, name, webhook_secret, created_at) "
                "VALUES ('u', 'n', 's', '2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO accounts (id, user_id, email, max_jobs, plan, credits_permitted, credits_used, "
                "created_at, updated_at) VALUES (1, 'u', 'a@example.com', 1, 'standard', 0, 0, '2026-01-01', "
                "'2026-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assets (id, user_id, account_id, name, media_type, content_type, "
                "blob_key, preview_keys, file_size, width, height, has_audio, is_user_upload, "
                "extended_count, created_at, updated_at) VALUES ('x', 'u', 1, 'x.mp4', 'video', "
                "'video/mp4', 'k', '[]', 1, 2, 2, 0, 1, 0, '2026-01-01', '2026-01-01')"
            )
        )
        connection.commit()
    migrate(db)
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT group_id FROM assets")).scalar_one() == "x"
        assert (
            connection.execute(text("SELECT storage_quota_bytes FROM accounts")).scalar_one() == 500 * 10**9
        )


def _one_task(connection: Connection, *, status: str, attempt: int) -> None:
    """A user, an account and one task, written in SQL as the schema stood at an older revision."""
    connection.execute(
        text("INSERT INTO users (id, name, webhook_secret, created_at) VALUES ('u', 'n', 's', '2026-01-01')")
    )
    connection.execute(
        text(
            "INSERT INTO accounts (id, user_id, email, max_jobs, plan, credits_permitted, credits_used, "
            "storage_quota_bytes, created_at, updated_at) VALUES (1, 'u', 'a@example.com', 1, "
            "'standard', 0, 0, 1, '2026-01-01', '2026-01-01')"
        )
    )
    connection.execute(
        text(
            "INSERT INTO tasks (id, user_id, account_id, operation, name, params, options, "
            "input_asset_ids, status, estimated_time_to_start, explore_mode, output_seconds, cost, "
            "attempt, failed_attempts, created_at, updated_at) VALUES ('t', 'u', 1, 'gen3/extend', "
            "'n', '{}', '{}', '{}', :status, 0, false, 5, 0, :attempt, 0, '2026-01-01', '2026-01-01')"
        ),
        {"status": status, "attempt": attempt},
    )
    connection.commit()


def test_a_database_at_0002_upgrades_with_version_and_change_seq(database_url: str, tmp_path: Path) -> None:
    """0003 on a database with tasks: they keep version 1 and change_seq 0 (older than any cursor),
    and from then on the triggers version every change."""
    db = _database(database_url, tmp_path)
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        _one_task(connection, status="PENDING", attempt=0)
    migrate(db)
    with db.engine.connect() as connection:
        row = connection.execute(text("SELECT version, change_seq FROM tasks")).one()
        assert tuple(row) == (1, 0)
        connection.execute(text("UPDATE tasks SET status = 'RUNNING'"))
        connection.commit()
        version, seq = connection.execute(text("SELECT version, change_seq FROM tasks")).one()
        assert version == 2 and seq > 0


def test_a_database_at_0003_upgrades_with_live_previews_versioned(database_url: str, tmp_path: Path) -> None:
    """0004 adds tasks.preview_key and makes its triggers watch it: a new still alone is a change
    the streams send. Downgrading drops it and watches what 0003 watched."""
    db = _database(database_url, tmp_path)
    config = alembic_config()
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
        _one_task(connection, status="RUNNING", attempt=1)
        command.upgrade(config, "0004")
        connection.commit()

        def version() -> int:
            return int(connection.execute(text("SELECT version FROM tasks")).scalar_one())

        before = version()
        connection.execute(text("UPDATE tasks SET preview_key = 'artifacts/t/1/live/0.jpg'"))
        connection.commit()
        assert version() == before + 1
        connection.execute(text("UPDATE tasks SET preview_key = 'artifacts/t/1/live/0.jpg'"))
        connection.commit()
        assert version() == before + 1, "the same still again is no change"
        connection.execute(text("UPDATE tasks SET status = 'FAILED'"))
        connection.commit()
        assert version() == before + 2, "the columns 0003 watched are still watched"

        command.downgrade(config, "0003")
        connection.commit()
        connection.execute(text("UPDATE tasks SET status = 'SUCCEEDED'"))
        connection.commit()
        assert version() == before + 3
        columns = {column["name"] for column in inspect(connection).get_columns("tasks")}
        assert "preview_key" not in columns and "version" in columns
