"""Workers never touch the database: their modules load neither SQLAlchemy nor Alembic, and the
settings a worker process gets carry no database URL and no link-signing key."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import Server

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
    spawn = multiprocessing.get_context("spawn")
    started: list[dict[str, Any]] = []

    def recording_process(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs)  # what each worker process is started with
        return multiprocessing.context.SpawnProcess(*args, **kwargs)

    monkeypatch.setattr(type(spawn), "Process", staticmethod(recording_process))
    database = f"sqlite:///{tmp_path / 'named.db'}"
    server = make_server(workers=1, database_url=database, secret_key="a-signing-key")
    [slot] = server.app.state.executor.slots
    deadline = time.monotonic() + 60
    while slot.pid is None:
        assert time.monotonic() < deadline, "the worker process did not start"
        time.sleep(0.05)
    [worker] = started
    settings = worker["args"][1]
    assert settings["database_url"] == "" and settings["secret_key"] == ""
    assert settings["data_dir"] == str(server.ctx.settings.data_dir.resolve())
    assert server.ctx.settings.database_url == database  # the server itself keeps both
