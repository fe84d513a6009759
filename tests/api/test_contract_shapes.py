"""Response shapes exactly as each endpoint's reference page shows them (README: Shapes, endpoint by
endpoint)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mediafiles import make_video
from support import Server
from taxiway.media.probe import probe_file


@pytest.mark.parametrize(
    ("requested", "shown"),
    [
        (None, "5:3"),
        ("landscape", "5:3"),
        ("portrait", "3:5"),
        ("16:9", "16:9"),
        ("9:16", "9:16"),
        ("3:5", "3:5"),
    ],
)
def test_expand_shows_the_ratio_it_renders(
    idle_server: Server, clip: Path, requested: str | None, shown: str
) -> None:
    api = idle_server.new_user()
    api.create_account()
    body = {"videoAssetId": api.upload(clip, "video/mp4")["assetId"]}
    if requested:
        body["outpaint_aspect_ratio"] = requested
    task = api.create("gen3turbo/expand", body).json()
    assert task["options"]["outpaint_aspect_ratio"] == shown
    assert task["options"]["seconds"] == 2 and isinstance(task["options"]["seconds"], int)  # the clip's 2 s


def test_every_new_task_has_a_numeric_time_to_start_and_the_accounts_reply_url(
    idle_server: Server, clip: Path
) -> None:
    api = idle_server.new_user()
    api.create_account(replyUrl="https://93.184.215.14/hook")
    asset = api.upload(clip, "video/mp4")["assetId"]
    task = api.create("gen3alpha/upscale", {"assetId": asset}).json()
    assert task["estimatedTimeToStartSeconds"] == 0 and task["progressRatio"] is None
    assert task["replyUrl"] == "https://93.184.215.14/hook"
    own = api.create("gen3alpha/upscale", {"assetId": asset, "replyUrl": "https://93.184.215.14/own"}).json()
    assert own["replyUrl"] == "https://93.184.215.14/own"


def test_artifact_filenames_have_one_extension(make_server: Callable[..., Server], tmp_path: Path) -> None:
    server = make_server()
    api = server.new_user()
    api.create_account()
    cup = make_video(tmp_path / "cup.mp4", width=320, height=180, seconds=1.0, fps=24, audio=False)
    asset = api.upload(cup, "video/mp4", name="cup.mp4")["assetId"]
    created = {
        "cup 4K.mp4": api.create("videos/upscale", {"videoAssetId": asset}),
        "Expanded cup.mp4": api.create("gen3turbo/expand", {"videoAssetId": asset}),
        "cup extended by 5s.mp4": api.create("gen3/extend", {"assetId": asset, "seconds": 5}),
    }
    for filename, response in created.items():
        task = api.wait(response.json()["taskId"])
        assert task["status"] == "SUCCEEDED", task["error"]
        assert task["artifacts"][0]["filename"] == filename
        if filename.startswith("Expanded"):  # landscape: 5:3, 320×192 for a 320×180 source
            out = tmp_path / "expanded.mp4"
            out.write_bytes(api.http.get(task["artifacts"][0]["url"]).content)
            assert (probe_file(out, "video").width, probe_file(out, "video").height) == (320, 192)
