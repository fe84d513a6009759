"""Workers never touch the database: their modules load neither SQLAlchemy nor Alembic, and the
settings a worker process gets carry no database URL and no link-signing key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import Server
from taxiway.executors.local.supervisor import worker_process_context

WORKER_MODULES = ("taxiway.worker.runner", "taxiway.executors.local.child", "taxiway.executors.ray.actor")


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_a_worker_module_loads_no_database_code(module: str) -> None:
    check = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic', 'psycopg'))\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"


def test_a_local_worker_process_gets_no_database_url_and_no_signing_key(
    make_server: Callable[..., Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = worker_process_context()
    process_class = context.Process
    started: list[dict[str, Any]] = []

    def recording_process(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs)  # what each worker process is started with
        return process_class(*args, **kwargs)

    monkeypatch.setattr(type(context), "Process", staticmethod(recording_process))
    monkeypatch.setenv("TAXIWAY_DATABASE_URL", "sqlite:///from-the-environment.db")
    monkeypatch.setenv("TAXIWAY_SECRET_KEY", "a-key-from-the-environment")
    database = f"sqlite:///{tmp_path / 'named.db'}"
    server = make_server(workers=1, database_url=database, secret_key="a-signing-key")
    [slot] = server.app.state.executor.slots
    deadline = time.monotonic() + 60
    while slot.pid is None:
        assert time.monotonic() < deadline, "the worker process did not start"
        time.sleep(0.05)
    [worker] = started
    settings, environment = worker["args"][1], worker["args"][3]
    assert settings["database_url"] == "" and settings["secret_key"] == ""
    assert "TAXIWAY_DATABASE_URL" not in environment and "TAXIWAY_SECRET_KEY" not in environment
    assert environment["PATH"] == os.environ["PATH"]  # the rest of the environment is the server's
    assert settings["data_dir"] == str(server.ctx.settings.data_dir.resolve())
    assert server.ctx.settings.database_url == database  # the server itself keeps both
