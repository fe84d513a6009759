"""The neural engines keep a source's timing too: the hard cases of the real-footage corpus through
HTTP with tiny random models (spandrel super-resolution for upscale, Wan VACE for expand, extend
and video to video), checked against the ffmpeg CLI's reading as the classic engines are in
tests/realworld/test_every_operation.py. The timing model is shared, so a few cases suffice: the
ones whose timestamps need repairing, a variable rate and damage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sr_models import save_checkpoint, tiny_compact
from wan_models import save_tiny_wan_vace, start_wan_server

from footage import CONTENT_TYPES, build_case
from support import Api
from taxiway.media.probe import probe_file
from timing_oracle import artifact_problems, ffmpeg_reading

CASES = ("avi-packed", "mp4-no-ctts", "mp4-vfr", "avi-damaged")
TINY_WAN = {"engine": "wan-vace", "resolution": 64, "steps": 1, "max_frames": 17, "context_frames": 4}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    models_dir = tmp_path_factory.mktemp("models")
    save_checkpoint(tiny_compact(), models_dir / "sr.safetensors")
    save_tiny_wan_vace(models_dir / "wan")
    models = {"sr": {"engine": "spandrel", "path": "sr.safetensors"}, "wan": TINY_WAN | {"path": "wan"}}
    server = start_wan_server(
        tmp_path_factory.mktemp("data"), models, models_dir=models_dir, default_credits=100_000
    )
    user = server.new_user()
    user.create_account("neural@example.com", max_jobs=10)
    yield user
    server.stop()


@pytest.mark.parametrize("name", CASES)
def test_neural_engines_keep_the_sources_timing(
    api: Api, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, name: str
) -> None:
    source = build_case(name, tmp_path_factory.getbasetemp() / "neural-corpus")
    reading = ffmpeg_reading(source, tmp_path)
    has_audio = probe_file(source, "video").has_audio
    asset = api.upload(source, CONTENT_TYPES[source.suffix])["assetId"]
    runs: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
        "upscale": ("videos/upscale", {"videoAssetId": asset, "model": "sr"}, {}),
        "expand": ("gen3turbo/expand", {"videoAssetId": asset, "outpaint_aspect_ratio": "portrait"}, {}),
        "extend": ("gen3/extend", {"assetId": asset, "seconds": 5, "seed": 1}, {"added": 5}),
        "video to video": ("gen3turbo/video", {"assetId": asset, "text_prompt": "x", "seconds": 5}, {}),
    }
    created = {
        label: api.create(path, body | {"model": body.get("model", "wan")})
        for label, (path, body, _) in runs.items()
    }
    problems: dict[str, Any] = {}
    for label, response in created.items():
        assert response.status_code == 200, (label, response.text)
        task = api.wait(response.json()["taskId"], timeout=300)
        assert task["options"]["engine"].split(":")[0] in ("spandrel", "wan-vace"), task["options"]
        found = artifact_problems(task, tmp_path / f"{label}.mp4", reading, audio=has_audio, **runs[label][2])
        if found:
            problems[label] = found
    assert not problems, (name, reading, problems)
