"""The Python client against a real server: every call's success path and each typed error."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from support import FAST, Api, Receiver, Server
from taxiway.accounts.service import grant_credits
from taxiway.client import (
    AsyncClient,
    BadRequest,
    Busy,
    BusyWait,
    Client,
    Conflict,
    EngineInfo,
    InsufficientCredits,
    InvalidSignature,
    NotFound,
    Policy,
    Task,
    TaskCancelled,
    TaskFailed,
    Timeout,
    Unauthorized,
    verify_callback,
)


def _video_size(path: Path) -> tuple[int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, float(container.duration or 0) / av.time_base


def test_upload_upscale_wait_download(client: Client, short_clip: Path, tmp_path: Path) -> None:
    asset = client.upload(short_clip)
    assert asset.media_type == "video" and asset.name == short_clip.name
    assert (asset.media.width, asset.media.height) == (64, 48)
    seen: list[Task] = []
    task = client.wait(client.upscale(asset, reply_ref="job-1"), on_progress=seen.append)
    assert task.status == "SUCCEEDED" and task.reply_ref == "job-1"
    assert "RUNNING" in [t.status for t in seen]
    ratios = [t.progress_ratio for t in seen]
    assert ratios == sorted(ratios) and ratios[-1] == 1.0
    saved = client.download(task, tmp_path / "out.mp4")
    width, height, duration = _video_size(saved)
    assert (width, height) == (task.artifacts[0].media.width, task.artifacts[0].media.height) == (4096, 3072)
    assert duration == pytest.approx(0.5, abs=0.1)
    assert saved.stat().st_size == task.artifacts[0].file_size
    assert not list(tmp_path.glob("*.part"))
    # A folder as target keeps the artifact's own filename.
    assert client.download(task, tmp_path).name == task.artifacts[0].filename


def test_async_client_runs_every_other_operation(user: Api, clip: Path, image: Path, tmp_path: Path) -> None:
    async def scenario() -> list[Task]:
        async with AsyncClient(user.base_url, user.token, policy=FAST) as client:
            with open(clip, "rb") as stream:  # a stream, read in chunks
                video = await client.upload(stream, name="clip.mp4")
            still = await client.upload(image)
            created = [
                await client.restyle(video, "film noir", strength=4, seconds=5, seed=7),
                await client.expand(video, aspect_ratio="portrait", image=still, prompt="beach"),
                await client.extend(video, seconds=5, prompt="zoom in"),
                await client.extend(video, turbo=True),
            ]
            done = list(await asyncio.gather(*(client.wait(task) for task in created)))
            await client.download(done[1], tmp_path / "expanded.mp4")
            listed = await client.list_tasks(statuses=["SUCCEEDED"])
            assert {t.task_id for t in done} <= {t.task_id for t in listed}
            return done

    restyled, _, extended, turbo = asyncio.run(scenario())
    assert restyled.options["look"] == "noir" and restyled.engine == "classic-restyle"
    assert (restyled.artifacts[0].media.width, restyled.artifacts[0].media.height) == (1280, 768)
    width, height, _ = _video_size(tmp_path / "expanded.mp4")
    assert width / height == pytest.approx(3 / 5, abs=0.01)  # portrait is 3:5, as the contract shows
    assert extended.artifacts[0].media.duration == pytest.approx(7.0, abs=0.1)
    assert turbo.artifacts[0].media.duration == pytest.approx(10.0, abs=0.1)


def test_assets_tasks_and_accounts(client: Client, clip: Path) -> None:
    asset = client.upload(iter([clip.read_bytes()]), name="chunks.mp4")  # any iterable of bytes
    assert client.get_asset(asset.asset_id).name == "chunks.mp4"
    assert asset.asset_id in [a.asset_id for a in client.list_assets(media_type="video")]
    task = client.wait(client.extend(asset, seconds=5))
    assert client.get_task(task.task_id).status == "SUCCEEDED"
    assert client.delete_task(task) is None
    with pytest.raises(NotFound):
        client.get_task(task.task_id)
    client.delete_asset(asset)
    with pytest.raises(NotFound, match="Unable to retrieve"):
        client.get_asset(asset.asset_id)

    account = client.set_account("second@example.com", max_jobs=3, reply_url="https://example.com/hook")
    assert (account.email, account.max_jobs, account.reply_url) == (
        "second@example.com",
        3,
        "https://example.com/hook",
    )
    assert {a.email for a in client.list_accounts()} == {"me@example.com", "second@example.com"}
    assert client.get_account("second@example.com").max_jobs == 3
    credits = client.credits("second@example.com")
    assert credits.permitted == 1000 and credits.used == 0 and credits.available == 1000
    client.delete_account("second@example.com")
    with pytest.raises(NotFound):
        client.get_account("second@example.com")


def test_typed_errors_carry_the_servers_message(client: Client, user: Api, clip: Path) -> None:
    with pytest.raises(BadRequest, match="structure_transformation") as bad:
        client.restyle("whatever", "noir", strength=11)
    assert bad.value.status == 400 and bad.value.body["code"] == 400
    with pytest.raises(NotFound):
        client.get_task("no-such-task")
    with pytest.raises(Unauthorized), Client(user.base_url, "wrong-token", policy=FAST) as stranger:
        stranger.list_tasks()
    with pytest.raises(ValueError, match="media type"):
        client.upload(io.BytesIO(b"data"), name="notes.txt")
    with pytest.raises(FileNotFoundError):
        client.upload(clip.with_name("missing.mp4"))


def test_insufficient_credits_is_412(client: Client, one_slot_server: Server, clip: Path) -> None:
    asset = client.upload(clip)
    grant_credits(one_slot_server.ctx.db, "me@example.com", -1000, None)
    with pytest.raises(InsufficientCredits) as error:
        client.upscale(asset)
    assert error.value.status == 412
    assert error.value.body["creditsAvailable"] == 0


def test_busy_account_is_waited_out_then_admitted(idle_user: Api, clip: Path) -> None:
    client = Client(idle_user.base_url, idle_user.token, policy=FAST, on_busy=(waits := []).append)
    asset = client.upload(clip)
    first = client.upscale(asset)
    # The account (maxJobs 1) frees up when the first task is cancelled a moment later.
    threading.Timer(1.0, client.cancel_task, [first]).start()
    second = client.extend(asset)
    assert second.status in ("PENDING", "THROTTLED")
    assert waits and all(isinstance(w, BusyWait) and w.delay_seconds > 0 for w in waits)
    assert first.task_id in {t["taskId"] for t in waits[0].error.running_tasks["me@example.com"]}
    with pytest.raises(Busy) as busy:
        Client(idle_user.base_url, idle_user.token, policy=Policy(busy_timeout_seconds=0)).upscale(asset)
    assert second.task_id in {t["taskId"] for t in busy.value.running_tasks["me@example.com"]}
    client.close()


def test_wait_raises_on_cancel_timeout_and_failure(idle_user: Api, make_server, clip: Path) -> None:  # type: ignore[no-untyped-def]
    client = Client(idle_user.base_url, idle_user.token, policy=FAST)
    asset = client.upload(clip)
    task = client.upscale(asset)
    started = time.monotonic()
    with pytest.raises(Timeout, match="still PENDING") as timeout:
        client.wait(task, timeout=0.5)
    assert time.monotonic() - started < 5 and timeout.value.task.status == "PENDING"
    with pytest.raises(Conflict):
        client.delete_asset(asset)  # a live task reads it
    threading.Timer(0.5, client.cancel_task, [task]).start()
    with pytest.raises(TaskCancelled) as cancelled:
        client.wait(task)
    assert cancelled.value.task.status == "CANCELLED"
    assert client.cancel_task(task).status == "CANCELLED"  # cancelling again changes nothing

    slow = make_server(task_time_limit_seconds=0.3).new_user()
    slow.create_account()
    other = Client(slow.base_url, slow.token, policy=FAST)
    with pytest.raises(TaskFailed, match=r"failed: .*time limit") as failed:
        other.wait(other.upscale(other.upload(clip)))
    assert failed.value.task.status == "FAILED"


def test_verify_callback(client: Client, clip: Path, receiver: Receiver) -> None:
    secret = client.webhook_secret()
    task = client.wait(client.extend(client.upload(clip), reply_url=receiver.url, reply_ref="r1"))
    final = receiver.wait_for("SUCCEEDED")
    headers, body = next((h, b) for h, b in receiver.received if b"SUCCEEDED" in b)
    parsed = verify_callback(secret, headers, body)
    assert parsed.task_id == task.task_id == final["taskId"] and parsed.reply_ref == "r1"
    with pytest.raises(InvalidSignature):
        verify_callback(secret, headers, body.replace(b"r1", b"r2"))


def test_engines_lists_what_each_operation_offers(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = make_server(workers=0, neural_device="cpu", upscale_model=str(tmp_path / "x4.pth"))
    user = server.new_user()
    with Client(user.base_url, user.token, policy=FAST) as client:
        engines = client.engines()
    assert list(engines.operations) == ["upscale", "video_to_video", "expand", "extend"]
    assert engines.device["resolved"] == "cpu"
    upscale = engines.default("upscale")
    assert isinstance(upscale, EngineInfo)
    assert (upscale.model, upscale.engine, upscale.kind) == ("x4.pth", "spandrel:x4.pth", "spandrel")
    assert upscale.status == "missing weights" and not upscale.ready and "x4.pth" in (upscale.problem or "")
    classic = engines.default("extend")
    assert classic is not None and classic.ready and classic.engine == "classic-extend"

    async def listed() -> list[str]:
        async with AsyncClient(user.base_url, user.token, policy=FAST) as client:
            return [e.model for e in (await client.engines()).operations["upscale"]]

    assert asyncio.run(listed()) == ["x4.pth", "classic"]
