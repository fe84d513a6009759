"""The `taxiway` command against a real server: each command's success path, errors, 429, 412, Ctrl-C."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import pytest
from typer.testing import CliRunner

from support import Api, Server
from taxiway.accounts.service import grant_credits
from taxiway.cli.main import app
from taxiway.scheduler.claims import claim_next
from taxiway.tasks import lifecycle

TAXIWAY = str(Path(sys.executable).parent / "taxiway")


def taxiway(api: Api, *args: str, cwd: Path, token: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command as a user would, with the server and token in the environment."""
    token = api.token if token is None else token
    env = os.environ | {"TAXIWAY_BASE_URL": api.base_url, "TAXIWAY_API_TOKEN": token}
    return subprocess.run(
        [TAXIWAY, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result.stdout.strip()


def fails(result: subprocess.CompletedProcess[str], message: str) -> str:
    """A user error: exit 1, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 1, (
        f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def _size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        return container.streams.video[0].width, container.streams.video[0].height


@pytest.fixture
def server(make_server) -> Server:  # type: ignore[no-untyped-def]
    return make_server()


@pytest.fixture
def user(server: Server) -> Api:
    api = server.new_user()
    api.create_account()
    return api


def test_upscale_uploads_follows_and_downloads(user: Api, short_clip: Path, tmp_path: Path) -> None:
    result = taxiway(user, "upscale", str(short_clip), "-o", "big.mp4", cwd=tmp_path)
    assert ok(result) == str(tmp_path / "big.mp4")  # printed absolute, whatever -o said
    assert _size(tmp_path / "big.mp4") == (4096, 3072)
    assert "uploaded short.mp4" in result.stderr and "SUCCEEDED" in result.stderr
    assert "RUNNING" in result.stderr or "100%" in result.stderr  # the progress display
    # The output exists now: refused before anything is uploaded, unless --force.
    fails(taxiway(user, "upscale", str(short_clip), "-o", "big.mp4", cwd=tmp_path), "exists; pass --force")


def test_restyle_json_output_is_the_task_object(user: Api, clip: Path, tmp_path: Path) -> None:
    args = ["restyle", str(clip), "film noir", "--strength", "4", "--aspect", "portrait", "--seconds", "5"]
    task = json.loads(ok(taxiway(user, *args, "--seed", "3", "--model", "classic", "--json", cwd=tmp_path)))
    assert task["status"] == "SUCCEEDED" and task["options"]["look"] == "noir"
    assert (task["options"]["model"], task["options"]["engine"]) == ("classic", "classic-restyle")
    assert task["options"]["structure_transformation"] == 0.4 and task["options"]["seed"] == 3
    assert _size(tmp_path / "clip-restyled.mp4") == (768, 1280)


def test_no_wait_then_the_tasks_commands(user: Api, clip: Path, tmp_path: Path) -> None:
    asset_id = ok(taxiway(user, "assets", "upload", str(clip), "--name", "holiday.mp4", cwd=tmp_path))
    task_id = ok(taxiway(user, "expand", asset_id, "--aspect", "portrait", "--no-wait", cwd=tmp_path))
    assert task_id.startswith("user:") and "-task:" in task_id
    saved = ok(taxiway(user, "tasks", "wait", task_id, "-o", "tall.mp4", cwd=tmp_path))
    assert saved == str(tmp_path / "tall.mp4") and _size(tmp_path / "tall.mp4")[1] > 300
    assert json.loads(ok(taxiway(user, "tasks", "show", task_id, cwd=tmp_path)))["status"] == "SUCCEEDED"
    listed = json.loads(ok(taxiway(user, "tasks", "ls", "--status", "succeeded", "--json", cwd=tmp_path)))
    assert [t["taskId"] for t in listed] == [task_id]
    table = ok(taxiway(user, "tasks", "ls", cwd=tmp_path))
    assert task_id.rsplit(":", 1)[-1] in table and "classic-expand" in table
    bare = task_id.rsplit(":", 1)[-1]  # the short id a table shows works too
    assert ok(taxiway(user, "tasks", "download", bare, "-o", "again.mp4", cwd=tmp_path)).endswith("again.mp4")
    ok(taxiway(user, "tasks", "rm", bare, cwd=tmp_path))
    fails(taxiway(user, "tasks", "show", task_id, cwd=tmp_path), "error:")


def test_extend_with_an_asset_id_keeps_the_artifact_name(user: Api, clip: Path, tmp_path: Path) -> None:
    asset_id = ok(taxiway(user, "assets", "upload", str(clip), cwd=tmp_path))
    result = taxiway(user, "extend", asset_id, "--seconds", "5", "--prompt", "zoom in", cwd=tmp_path)
    saved = Path(ok(result))
    assert saved.parent == tmp_path and saved.exists()
    assert "engine classic-extend" in result.stderr
    with av.open(str(saved)) as container:
        assert float(container.duration or 0) / av.time_base == pytest.approx(7.0, abs=0.1)


def test_assets_and_accounts_commands(user: Api, clip: Path, tmp_path: Path) -> None:
    asset_id = ok(taxiway(user, "assets", "upload", str(clip), cwd=tmp_path))
    assert [a["assetId"] for a in json.loads(ok(taxiway(user, "assets", "ls", "--json", cwd=tmp_path)))] == [
        asset_id
    ]
    assert "clip.mp4" in ok(taxiway(user, "assets", "ls", "--type", "video", cwd=tmp_path))
    assert json.loads(ok(taxiway(user, "assets", "show", asset_id, cwd=tmp_path)))["metadata"]["width"] == 320
    ok(taxiway(user, "assets", "rm", asset_id, cwd=tmp_path))
    fails(taxiway(user, "assets", "show", asset_id, cwd=tmp_path), "Unable to retrieve")

    ok(taxiway(user, "accounts", "set", "two@example.com", "--max-jobs", "2", cwd=tmp_path))
    accounts = json.loads(ok(taxiway(user, "accounts", "ls", "--json", cwd=tmp_path)))
    assert {a["email"]: a["maxJobs"] for a in accounts} == {"me@example.com": 5, "two@example.com": 2}
    assert ok(taxiway(user, "accounts", "credits", "two@example.com", cwd=tmp_path)).startswith(
        "two@example.com: 1000 available"
    )
    assert json.loads(ok(taxiway(user, "accounts", "show", "two@example.com", cwd=tmp_path)))["maxJobs"] == 2
    ok(taxiway(user, "accounts", "rm", "two@example.com", cwd=tmp_path))
    fails(taxiway(user, "accounts", "show", "two@example.com", cwd=tmp_path), "error:")


def test_engines_command(user: Api, tmp_path: Path) -> None:
    listed = json.loads(ok(taxiway(user, "engines", "--json", cwd=tmp_path)))
    assert [e["engine"] for e in listed["operations"]["expand"]] == ["classic-expand"]
    table = ok(taxiway(user, "engines", cwd=tmp_path))
    assert table.splitlines()[0] == "device: auto → unknown"
    row = next(line for line in table.splitlines() if "classic-restyle" in line)
    assert "video_to_video" in row and "classic" in row and "ready" in row and "yes" in row
    fails(taxiway(user, "engines", cwd=tmp_path, token="not-a-token"), "Unauthorized")


def test_user_errors_are_one_line_and_exit_1(user: Api, server: Server, clip: Path, tmp_path: Path) -> None:
    fails(
        taxiway(user, "upscale", "missing.mp4", cwd=tmp_path), "missing.mp4: no such file, and not an assetId"
    )
    fails(taxiway(user, "restyle", str(clip), "noir", "--seconds", "7", cwd=tmp_path), "seconds")
    fails(taxiway(user, "tasks", "ls", cwd=tmp_path, token="not-a-token"), "Unauthorized")
    env_free = taxiway(user, "tasks", "ls", cwd=tmp_path, token="")
    assert env_free.returncode == 1 and "no API token" in env_free.stderr
    # 412: the account has no credits left.
    grant_credits(server.ctx.db, "me@example.com", -1000, None)
    fails(taxiway(user, "upscale", str(clip), cwd=tmp_path), "enough credits")
    assert not (tmp_path / "clip-4k.mp4").exists()


def test_a_busy_account_is_waited_out(idle_server: Server, clip: Path, tmp_path: Path) -> None:
    user = idle_server.new_user()
    user.create_account(max_jobs=1)
    asset = user.upload(clip, "video/mp4")
    first = user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    fails(
        taxiway(user, "extend", asset["assetId"], "--no-wait", "--busy-timeout", "0", cwd=tmp_path),
        "is busy executing 1 tasks",
    )
    # With patience, the CLI retries until the first task frees the account: it is cancelled once
    # the CLI has said it is waiting (a timer could fire before a slow machine even starts the CLI).
    env = os.environ | {"TAXIWAY_BASE_URL": user.base_url, "TAXIWAY_API_TOKEN": user.token}
    args = [TAXIWAY, "extend", asset["assetId"], "--no-wait", "--busy-interval", "0.3"]
    with subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as cli:
        assert cli.stderr is not None and cli.stdout is not None
        waiting = cli.stderr.readline()
        assert "account busy" in waiting and "1 task(s) running" in waiting, waiting
        user.http.delete(f"/tasks/{first['taskId']}")
        stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 0, (waiting, stderr)
    assert user.task(stdout.strip())["status"] == "PENDING"


_DEFAULT_SIGINT_THEN_EXEC = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def _connected(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a TCP connection to ``port`` on this machine (from /proc)."""
    sockets = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                sockets.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[3] == "01" and fields[9] in sockets:  # 01: ESTABLISHED
                    return True
    return False


def _interrupt_once_following(user: Api, args: list[str], cwd: Path) -> str:
    """Run the command, press Ctrl-C once it follows a task, and answer its stderr (exit code 130)."""
    env = os.environ | {"TAXIWAY_BASE_URL": user.base_url, "TAXIWAY_API_TOKEN": user.token}
    # As from a terminal: SIGINT at its default disposition. A test run started in the background of
    # a non-interactive shell inherits SIGINT ignored, which would pass to the CLI (Python keeps an
    # ignored SIGINT ignored), so the CLI starts through a shim that resets it and execs.
    command = [sys.executable, "-c", _DEFAULT_SIGINT_THEN_EXEC, TAXIWAY, *args]
    process = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    port = int(user.base_url.rsplit(":", 1)[1].split("/")[0])
    deadline = time.monotonic() + 60
    # The task exists and the CLI is talking to the server: it is past its start (which can take
    # seconds on a loaded machine) and follows the task now.
    while not (user.http.get("/tasks/").json() and _connected(process.pid, port)):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    return stderr


def test_ctrl_c_cancels_the_task_on_the_server(idle_server: Server, clip: Path, tmp_path: Path) -> None:
    user = idle_server.new_user()
    user.create_account()
    stderr = _interrupt_once_following(user, ["upscale", str(clip)], tmp_path)
    assert "cancelling task" in stderr and "CANCELLED" in stderr
    (task,) = user.http.get("/tasks/").json()
    assert task["status"] == "CANCELLED"
    assert not (tmp_path / "clip-4k.mp4").exists()


def test_ctrl_c_in_tasks_wait_only_stops_watching(idle_server: Server, clip: Path, tmp_path: Path) -> None:
    user = idle_server.new_user()
    user.create_account()
    asset = user.upload(clip, "video/mp4")
    task = user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    stderr = _interrupt_once_following(user, ["tasks", "wait", task["taskId"]], tmp_path)
    assert "stopped waiting" in stderr
    assert user.task(task["taskId"])["status"] == "PENDING"
    cancelled = taxiway(user, "tasks", "cancel", task["taskId"], cwd=tmp_path)
    ok(cancelled)
    assert "CANCELLED" in cancelled.stderr and user.task(task["taskId"])["status"] == "CANCELLED"


def test_tasks_wait_follows_the_event_stream(make_server, clip: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The progress display follows the server's event stream: each change arrives as it happens."""
    server = make_server(workers=0, event_poll_interval_seconds=0.1)
    user = server.new_user()
    user.create_account()
    asset = user.upload(clip, "video/mp4")
    task = user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    env = os.environ | {"TAXIWAY_BASE_URL": user.base_url, "TAXIWAY_API_TOKEN": user.token}
    args = [TAXIWAY, "tasks", "wait", task["taskId"], "--json"]
    with subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as cli:
        try:
            deadline = time.monotonic() + 60
            while server.app.state.feed.subscribers == 0:  # the CLI has opened the task's stream
                assert time.monotonic() < deadline and cli.poll() is None, "the CLI opened no stream"
                time.sleep(0.05)
            job = claim_next(server.ctx, "test")
            assert job is not None and job.task_id == task["id"]
            lifecycle.record_progress(server.ctx, task["id"], job.attempt, 0.5, "half way")
            lifecycle.fail(server.ctx, task["id"], job.attempt, "the engine broke", "ENGINE_ERROR")
            stdout, stderr = cli.communicate(timeout=60)
        finally:
            cli.kill()
    assert cli.returncode == 1 and "the engine broke" in stderr, stderr
    assert stdout == ""


def test_every_command_has_help() -> None:
    runner = CliRunner()
    commands = [
        [], ["upscale"], ["restyle"], ["expand"], ["extend"], ["serve"],
        ["tasks"], ["tasks", "ls"], ["tasks", "show"], ["tasks", "wait"], ["tasks", "download"],
        ["tasks", "cancel"], ["tasks", "rm"],
        ["assets"], ["assets", "ls"], ["assets", "show"], ["assets", "upload"], ["assets", "rm"],
        ["accounts"], ["accounts", "ls"], ["accounts", "show"], ["accounts", "set"], ["accounts", "rm"],
        ["accounts", "credits"], ["engines"],
        ["admin"], ["admin", "user", "create"], ["admin", "credits", "grant"], ["db", "upgrade"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_the_same_file_is_uploaded_once_unless_asked_again(
    user: Api, short_clip: Path, tmp_path: Path
) -> None:
    digest = hashlib.sha256(short_clip.read_bytes()).hexdigest()

    def uploads() -> list[dict[str, Any]]:  # not the upscales' artifacts, which may be done by now
        return [asset for asset in user.http.get("/assets/").json() if asset["contentSha256"] == digest]

    ok(taxiway(user, "upscale", str(short_clip), "--no-wait", cwd=tmp_path))
    [first] = uploads()
    again = taxiway(user, "upscale", str(short_clip), "--no-wait", cwd=tmp_path)
    ok(again)
    assert f"using {first['assetId']}, your earlier upload of short.mp4" in again.stderr.replace("\n", "")
    assert [a["id"] for a in uploads()] == [first["id"]]
    forced = taxiway(user, "upscale", str(short_clip), "--no-wait", "--new-upload", cwd=tmp_path)
    assert "uploaded short.mp4" in forced.stderr and ok(forced)
    assert len(uploads()) == 2


def test_sample_writes_a_clip_the_server_takes(user: Api, tmp_path: Path) -> None:
    env = os.environ | {"TAXIWAY_BASE_URL": user.base_url}
    result = subprocess.run([TAXIWAY, "sample", "holiday.mp4", "--seconds", "2"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert ok(result) == str(tmp_path / "holiday.mp4")
    asset = user.upload(tmp_path / "holiday.mp4", "video/mp4")
    assert asset["metadata"]["dimensions"] == [1280, 720] and asset["metadata"]["duration"] == 2
    assert asset["metadata"]["frameRate"] == 24 and asset["metadata"]["hasAudio"]
    fails(taxiway(user, "sample", "holiday.mp4", cwd=tmp_path), "exists; pass --force")
