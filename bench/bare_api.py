"""The baseline for bench_api_throughput.py: a bare FastAPI + SQLAlchemy + SQLite app doing the row
work of a task create and a task read, and nothing else.

POST /tasks counts the account's live tasks (what maxJobs needs) and inserts one row in one write
transaction; GET /tasks/{id} selects one row. A bearer token is compared with a constant (no
lookup). SQLite in WAL mode with ``synchronous=NORMAL``, BEGIN IMMEDIATE for writes and BEGIN for
reads, as taxiway's embedded database. Run it with uvicorn: ``BARE_API_DB=/tmp/bare.db uvicorn bare_api:app``.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Header, HTTPException
from sqlalchemy import DateTime, String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

TOKEN = "bench-token"


class Base(DeclarativeBase):
    pass


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    asset_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


def _engine(path: str, begin: str) -> Any:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


_path = os.environ.get("BARE_API_DB", "bare.db")
engine = _engine(_path, "BEGIN IMMEDIATE")  # writes queue on the lock up front
reader = _engine(_path, "BEGIN")
Base.metadata.create_all(engine)
app = FastAPI()


def _check(authorization: str | None) -> None:
    if authorization != f"Bearer {TOKEN}":
        raise HTTPException(401, "Unauthorized")


def _json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "account": task.account,
        "status": task.status,
        "assetId": task.asset_id,
        "createdAt": task.created_at.isoformat(),
    }


@app.post("/tasks")
def create(body: dict[str, Any], authorization: str | None = Header(None)) -> dict[str, Any]:
    _check(authorization)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        account = str(body.get("email", ""))
        live = session.scalar(
            select(func.count()).where(Task.account == account, Task.status.in_(("PENDING", "RUNNING")))
        )
        if (live or 0) >= 10:
            raise HTTPException(429, "busy")
        task = Task(
            id=str(uuid.uuid4()),
            account=account,
            status="PENDING",
            asset_id=str(body.get("videoAssetId", "")),
            created_at=datetime.now(UTC).replace(tzinfo=None),
        )
        session.add(task)
    return _json(task)


@app.get("/tasks/{task_id}")
def read(task_id: str, authorization: str | None = Header(None)) -> dict[str, Any]:
    _check(authorization)
    with Session(reader) as session, session.begin():
        task = session.get(Task, task_id)
        if task is None:
            raise HTTPException(404, "Not found")
        return _json(task)
