"""Nothing accepted is lost: killed workers, killed servers and overrunning tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from support import API, Api, Server, free_port
from taxiway.store.models import Asset, Task


def test_killed_worker_reruns_the_task(server: Server, api: Api, slow_clip: Path) -> None:
    asset = api.upload(slow_clip, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    api.wait_running_with_progress(task["taskId"])
    [pid] = server.executor_pids()
    os.kill(pid, signal.SIGKILL)

    done = api.wait(task["taskId"], timeout=180)
    assert done["status"] == "SUCCEEDED", done["error"]
    assert len(done["artifacts"]) == 1
    with server.ctx.db.read() as session:
        row = session.get(Task, task["id"])
        assert (row.attempt, row.failed_attempts) == (2, 1)
        assert session.scalar(select(func.count()).select_from(Asset).where(Asset.task_id == task["id"])) == 1
    # Credits were charged once, for the one task.
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 5
    # The server kept serving and has a fresh worker, which swept the killed one's working files.
    assert server.executor_pids() and server.executor_pids() != [pid]
    assert list((server.ctx.settings.scratch_dir / "jobs").iterdir()) == []
    # Only the attempt that succeeded has files in storage: the killed one's are gone.
    stored = server.ctx.settings.resolved_blob_dir / "artifacts" / task["id"]
    assert [path.name for path in stored.iterdir()] == ["2"]


def test_a_task_that_keeps_killing_its_worker_fails_after_three_attempts(
    make_server,
    slow_clip: Path,  # type: ignore[no-untyped-def]
) -> None:
    server = make_server(workers=1)
    api = server.new_user()
    api.create_account()
    asset = api.upload(slow_clip, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    for _ in range(3):
        api.wait_running_with_progress(task["taskId"])
        os.kill(server.executor_pids()[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while api.task(task["taskId"])["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    done = api.wait(task["taskId"], timeout=30)
    assert done["status"] == "FAILED"
    assert done["error"]["reason"] == "ATTEMPTS_EXHAUSTED"
    assert done["error"]["errorMessage"].startswith(
        "The task was attempted 3 times and each attempt was lost"
    )
    assert "killed by signal 9" in done["error"]["errorMessage"]
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0


def test_time_limit_stops_the_task(make_server, slow_clip: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=1, task_time_limit_seconds=1.5)
    api = server.new_user()
    api.create_account()
    asset = api.upload(slow_clip, "video/mp4")
    [first_pid] = server.executor_pids()
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    done = api.wait(task["taskId"], timeout=60)
    assert done["status"] == "FAILED"
    assert done["error"]["reason"] == "TIME_LIMIT"
    assert "exceeded the time limit of 1.5 seconds" in done["error"]["errorMessage"]
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0
    # The overrunning worker was killed; the slot gets a fresh one and is free again.
    deadline = time.monotonic() + 60
    while not server.app.state.executor.idle_slots():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert server.executor_pids() != [first_pid]


# --- whole-server crashes: real `taxiway serve` processes ---


class ServeProcess:
    def __init__(self, data_dir: Path, port: int, database_url: str) -> None:
        self.data_dir = data_dir
        self.env = os.environ | {
            "TAXIWAY_DATA_DIR": str(data_dir),
            "TAXIWAY_DATABASE_URL": database_url,
            "TAXIWAY_WORKERS": "1",
            "TAXIWAY_LEASE_SECONDS": "2",
            "TAXIWAY_X264_PRESET": "ultrafast",
            "TAXIWAY_SCHEDULER_INTERVAL_SECONDS": "0.1",
        }
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "taxiway.cli.main", *args], env=self.env, capture_output=True, check=True
        )
        return result.stdout.decode()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taxiway.cli.main", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(self.base_url + "/health", timeout=1).json()
                if health["status"] == "ok" and health["workers"]["slots"] == 1:
                    return
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            assert self.process.poll() is None, "server exited during start"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def serve_process(tmp_path: Path, database_url: str) -> Iterator[ServeProcess]:
    process = ServeProcess(tmp_path / "data", free_port(), database_url)
    yield process
    process.stop()


def test_server_killed_mid_task_loses_nothing(
    serve_process: ServeProcess, slow_clip: Path, short_clip: Path
) -> None:
    token = serve_process.cli("admin", "user", "create", "crashy").strip()
    assert token.startswith("twy_") and "\n" not in token
    serve_process.start()
    api = Api(serve_process.base_url, token)
    api.create_account("c@example.com", max_jobs=5)
    slow = api.upload(slow_clip, "video/mp4")["assetId"]
    quick = api.upload(short_clip, "video/mp4")["assetId"]
    tasks = [api.create("videos/upscale", {"videoAssetId": slow}).json()["taskId"]]
    tasks += [api.create("videos/upscale", {"videoAssetId": quick}).json()["taskId"] for _ in range(2)]
    api.wait_running_with_progress(tasks[0])

    serve_process.kill()
    with pytest.raises(httpx.HTTPError):
        httpx.get(serve_process.base_url + "/health", timeout=1)
    serve_process.start()

    for task_id in tasks:
        done = api.wait(task_id, timeout=180)
        assert done["status"] == "SUCCEEDED", done["error"]
        assert len(done["artifacts"]) == 1
    listed = api.http.get("/tasks/").json()
    assert sorted(task["taskId"] for task in listed) == sorted(tasks)
    assert len(api.http.get("/assets/", params={"limit": 50}).json()) == 2 + 3
    # What the killed server's worker was writing went with the restart.
    assert list((serve_process.data_dir / "scratch" / "jobs").iterdir()) == []


def test_graceful_restart_requeues_without_counting_an_attempt(
    serve_process: ServeProcess, slow_clip: Path
) -> None:
    token = serve_process.cli("admin", "user", "create", "polite").strip()
    serve_process.start()
    api = Api(serve_process.base_url, token)
    api.create_account("p@example.com")
    task = api.create(
        "videos/upscale", {"videoAssetId": api.upload(slow_clip, "video/mp4")["assetId"]}
    ).json()
    api.wait_running_with_progress(task["taskId"])
    serve_process.stop()  # SIGTERM: the worker is stopped and the task handed back
    serve_process.start()
    done = api.wait(task["taskId"], timeout=180)
    assert done["status"] == "SUCCEEDED"
    assert httpx.get(serve_process.base_url + API + "/tasks/x").status_code == 401
