"""Alembic environment: runs on the connection handed over by taxiway.store.migrate."""

from __future__ import annotations

from alembic import context

from taxiway.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through taxiway.store.migrate.migrate(), which supplies a connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite can only ALTER through table copies
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
