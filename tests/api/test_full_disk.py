"""A full disk, for real: the server's data directory on a small tmpfs, filled up by uploads and
tasks. Each store that fills answers 507 in the contract's shape, leaves nothing half-written and
the server healthy; a task that runs out of space fails as STORAGE_FULL and is refunded.

Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests skip, saying so, except where
TAXIWAY_REQUIRE_MOUNT=1 (CI) makes that an error.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mediafiles import make_video
from support import Server

MB = 1024**2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    mounted: list[Path] = []

    def mount(size_mb: int) -> Path:
        where = tmp_path / f"disk-{len(mounted)}"
        where.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            reason = f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}"
            if os.environ.get("TAXIWAY_REQUIRE_MOUNT") == "1":
                raise RuntimeError(f"TAXIWAY_REQUIRE_MOUNT=1 but {reason}")
            pytest.skip(reason)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """A file that takes all but ``leave_bytes`` of the disk's free space."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as handle:
        handle.truncate(0)
        remaining = free - leave_bytes
        chunk = b"\0" * MB
        while remaining > 0:
            handle.write(chunk[: min(MB, remaining)])
            remaining -= MB
    return filler


def _database_intact(server: Server) -> None:
    with sqlite3.connect(server.ctx.settings.data_dir / "taxiway.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_under_the_floor_uploads_and_new_tasks_are_refused_up_front(
    make_server: Callable[..., Server], small_disk: Callable[[int], Path], clip: Path
) -> None:
    disk = small_disk(64)
    server = make_server(data_dir=disk, min_free_disk_mb=100)  # more than the whole disk
    api = server.new_user()
    api.create_account()
    response = api.http.post(
        "/assets/", params={"name": "x.mp4"}, content=clip.read_bytes(), headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 507, response.text
    error = response.json()
    assert error["code"] == 507
    assert "almost full" in error["error"] and "TAXIWAY_MIN_FREE_DISK_MB" in error["error"]
    task = api.create("gen3alpha/upscale", {"assetId": "user:x-runwayml:y-asset:z"})
    assert task.status_code == 507 and task.json()["code"] == 507

    health = api.http.get(server.base_url + "/health")
    assert health.status_code == 200  # it still serves what it has
    body = health.json()
    assert body["status"] == "degraded"
    stores = {store["store"]: store for store in body["disk"]["stores"]}
    assert body["disk"]["floorMB"] == 100 and set(stores) == {"scratch space", "file storage", "database"}
    assert stores["scratch space"]["underFloor"] is True
    assert stores["file storage"]["freeMB"] <= 64


def test_an_upload_that_fills_the_disk_is_a_507_and_leaves_nothing_behind(
    make_server: Callable[..., Server], small_disk: Callable[[int], Path], clip: Path
) -> None:
    disk = small_disk(24)
    server = make_server(data_dir=disk)
    api = server.new_user()
    api.create_account()
    kept = api.upload(clip, "video/mp4")
    files_before = sorted(p.relative_to(disk) for p in disk.rglob("*") if p.is_file())

    def too_big() -> Iterator[bytes]:
        yield clip.read_bytes()  # a real file's start, then more than the disk holds
        for _ in range(40):
            yield os.urandom(MB)

    response = api.http.post(
        "/assets/", params={"name": "big.mp4"}, content=too_big(), headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 507, response.text
    assert set(response.json()) == {"error", "code"} and response.json()["code"] == 507
    assert "the server's scratch space is full" in response.json()["error"]
    assert "nothing was kept" in response.json()["error"]

    # Nothing half-written stays; the database is intact and the server carries on.
    assert list((server.ctx.settings.scratch_dir / "uploads").iterdir()) == []
    files_after = sorted(p.relative_to(disk) for p in disk.rglob("*") if p.is_file())
    assert [f for f in files_after if "blobs" in f.parts] == [f for f in files_before if "blobs" in f.parts]
    _database_intact(server)
    assert api.http.get(server.base_url + "/health").json()["status"] == "ok"
    assert [asset["id"] for asset in api.http.get("/assets/").json()] == [kept["id"]]
    assert api.upload(clip, "video/mp4")["id"] != kept["id"]


def test_a_task_that_runs_out_of_space_fails_as_storage_full_and_is_refunded(
    make_server: Callable[..., Server], small_disk: Callable[[int], Path], tmp_path: Path
) -> None:
    disk = small_disk(48)
    server = make_server(data_dir=disk)
    api = server.new_user()
    api.create_account()
    source = make_video(tmp_path / "noisy.mp4", width=320, height=240, seconds=2.0, fps=24)
    asset = api.upload(source, "video/mp4")
    credits = api.http.get("/features").json()["used"]["numPlanCredits"]
    filler = _fill(disk, leave_bytes=2 * MB)  # a 4K output of 2 s needs far more

    created = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]})
    assert created.status_code == 200, created.text
    task = api.wait(created.json()["id"], timeout=120)
    assert task["status"] == "FAILED", task
    assert task["error"]["reason"] == "STORAGE_FULL", task
    assert "the server's scratch space is full" in task["error"]["errorMessage"]
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == credits  # refunded

    # Its scratch went with it; the database is intact; with room again, the same work succeeds.
    assert list((server.ctx.settings.scratch_dir / "jobs").iterdir()) == []
    _database_intact(server)
    filler.unlink()
    again = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()["id"]
    assert api.wait(again, timeout=300)["status"] == "SUCCEEDED"
