"""Live previews: a running task's previewUrls link to a recent still of its output, refreshed as it
runs, carried by event streams, fenced by attempt, and gone (link and file) once it has finished."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from sse_streams import Open, Stream

from support import API, Api, Server
from taxiway.scheduler.claims import claim_next
from taxiway.tasks import lifecycle

FRAMES = 30  # 2.5 s at 12 fps, to 4K: a few seconds of work, like slow_clip
PREVIEWS = {"preview_interval_seconds": 0.4, "event_poll_interval_seconds": 0.1}


def _levels(index: int) -> tuple[int, int]:
    """The grey levels of source frame ``index``'s left and right halves: each frame its own pair."""
    return 40 + 5 * index, 220 - 5 * index


@pytest.fixture(scope="module")
def ramp_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """320×180 frames whose left half brightens and right half darkens frame by frame, so a still
    tells which frame it shows."""
    from mediafiles import make_video

    frames = []
    for index in range(FRAMES):
        left, right = _levels(index)
        picture = np.empty((180, 320, 3), np.uint8)
        picture[:, :160], picture[:, 160:] = left, right
        frames.append(picture)
    return make_video(
        tmp_path_factory.mktemp("previews") / "ramp.mp4",
        width=320,
        height=180,
        fps=12,
        frames=frames,
        audio=False,
    )


def _user(server: Server) -> Api:
    api = server.new_user()
    api.create_account("previews@example.com", max_jobs=10)
    return api


def _stream(streams: Open, server: Server, api: Api, task: dict[str, Any]) -> Stream:
    return streams(
        f"{server.base_url}{API}/tasks/{task['taskId']}/events", {"Authorization": f"Bearer {api.token}"}
    )


def _still(url: str) -> np.ndarray:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert picture is not None, "not a JPEG"
    return picture


def _frame_shown(picture: np.ndarray) -> int:
    """The source frame a still shows: the one whose halves' grey levels it has (checked close)."""
    height, width = picture.shape
    left = float(picture[height // 4 : -height // 4, width // 8 : width * 3 // 8].mean())
    right = float(picture[height // 4 : -height // 4, width * 5 // 8 : width * 7 // 8].mean())
    misses = [abs(left - a) + abs(right - b) for a, b in map(_levels, range(FRAMES))]
    best = int(np.argmin(misses))
    assert misses[best] < 8, f"the still ({left:.0f}, {right:.0f}) looks like no source frame"
    return best


def test_a_running_upscale_shows_its_output_taking_shape_then_none(
    make_server: Callable[..., Server], ramp_clip: Path, streams: Open
) -> None:
    server = make_server(**PREVIEWS)
    api = _user(server)
    task = api.create("gen3alpha/upscale", {"assetId": api.upload(ramp_clip, "video/mp4")["assetId"]}).json()
    assert task["previewUrls"] == []  # PENDING: nothing yet
    stream = _stream(streams, server, api, task)
    shown: list[tuple[str, int]] = []  # (link, the frame its still shows)
    while (now := api.task(task["id"]))["status"] in ("PENDING", "RUNNING"):
        links = now["previewUrls"]
        assert len(links) <= 1
        if links and (not shown or shown[-1][0] != links[0]):
            frame = _frame_shown(_still(links[0]))
            # The frame being written when the still was taken: at most a few past the progress shown.
            assert frame <= float(now["progressRatio"]) / 0.98 * FRAMES + 6, (frame, now["progressRatio"])
            shown.append((links[0], frame))
        time.sleep(0.05)
    assert now["status"] == "SUCCEEDED", now["error"]
    assert len(shown) >= 2, f"the preview was not refreshed while running: {shown}"
    frames = [frame for _, frame in shown]
    assert frames == sorted(frames) and frames[-1] > frames[0], frames
    paths = [link.split("?")[0] for link, _ in shown]
    assert len(set(paths)) == len(paths), "each still has a link of its own (no cached picture)"

    # Finished: no live preview, and its stills are gone (the artifact has previews of its own).
    assert now["previewUrls"] == [] and now["artifacts"][0]["previewUrls"]
    assert httpx.get(shown[-1][0]).status_code == 404
    files = list((server.settings.data_dir / "blobs" / "artifacts" / task["id"]).rglob("*"))
    assert files and not [path for path in files if "live" in path.parts]

    # Its event stream carried the stills too, and ended on a state without one.
    assert stream.ended.wait(10)
    states = [data for _, data in stream.events]
    assert any(data["status"] == "RUNNING" and data["previewUrls"] for data in states), stream.summary()
    assert states[-1]["status"] == "SUCCEEDED" and states[-1]["previewUrls"] == []


def test_an_expand_shows_a_preview_of_its_canvas(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**PREVIEWS)
    api = _user(server)
    task = api.create("gen3turbo/expand", {"videoAssetId": api.upload(clip, "video/mp4")["assetId"]}).json()
    stream = _stream(streams, server, api, task)
    stream.wait_for(lambda events: any(data["previewUrls"] for data in events), timeout=60)
    link = next(data["previewUrls"][0] for data in (d for _, d in stream.events) if data["previewUrls"])
    response = httpx.get(link)
    if response.status_code == 200:  # (unless it has been replaced twice since, or the task finished)
        picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[1] <= 640 and picture.shape[1] > picture.shape[0]  # landscape 5:3, downsized
    assert api.wait(task["id"])["status"] == "SUCCEEDED"


def test_no_previews_with_an_interval_of_zero(
    make_server: Callable[..., Server], short_clip: Path, streams: Open
) -> None:
    server = make_server(preview_interval_seconds=0, event_poll_interval_seconds=0.1)
    api = _user(server)
    task = api.create("gen3alpha/upscale", {"assetId": api.upload(short_clip, "video/mp4")["assetId"]}).json()
    stream = _stream(streams, server, api, task)
    assert api.wait(task["id"])["status"] == "SUCCEEDED"
    assert stream.ended.wait(10)
    assert any(data["status"] == "RUNNING" for _, data in stream.events), stream.summary()
    assert all(data["previewUrls"] == [] for _, data in stream.events)


def test_a_stale_attempts_preview_is_ignored(make_server: Callable[..., Server], short_clip: Path) -> None:
    """Driven through the lifecycle on a server that runs no work, as a worker's supervisor would."""
    server = make_server(workers=0)
    api = _user(server)
    task = api.create("gen3alpha/upscale", {"assetId": api.upload(short_clip, "video/mp4")["assetId"]}).json()
    first = claim_next(server.ctx, "test")
    assert first is not None and first.task_id == task["id"]
    key = f"{first.live_preview_prefix}/0.jpg"
    assert lifecycle.record_progress(server.ctx, task["id"], first.attempt, 0.1, None, preview_key=key)
    shown = api.task(task["id"])
    assert len(shown["previewUrls"]) == 1 and key in shown["previewUrls"][0]

    # Its worker is lost; the next attempt starts without a preview, and the old one's reports change nothing.
    assert lifecycle.attempt_lost(server.ctx, task["id"], first.attempt, "test")
    assert api.task(task["id"])["previewUrls"] == []
    second = claim_next(server.ctx, "test")
    assert second is not None and second.attempt == first.attempt + 1
    stale = f"{first.live_preview_prefix}/1.jpg"
    assert not lifecycle.record_progress(server.ctx, task["id"], first.attempt, 0.5, None, preview_key=stale)
    assert api.task(task["id"])["previewUrls"] == []
    fresh = f"{second.live_preview_prefix}/0.jpg"
    assert lifecycle.record_progress(server.ctx, task["id"], second.attempt, 0.2, None, preview_key=fresh)
    assert fresh in api.task(task["id"])["previewUrls"][0]
    # A report without a new still keeps the one it has.
    assert lifecycle.record_progress(server.ctx, task["id"], second.attempt, 0.3, None)
    assert fresh in api.task(task["id"])["previewUrls"][0]
    lifecycle.fail(server.ctx, task["id"], second.attempt, "it broke", "ENGINE_ERROR")
    assert api.task(task["id"])["previewUrls"] == []
