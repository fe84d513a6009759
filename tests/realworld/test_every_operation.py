"""Every operation, through HTTP, on real footage and on the hard cases real files have.

Each source of the corpus (tests/footage.py) is uploaded once and run through upscale (the two
endpoints take turns), video to video, expand and extend; each artifact's timing is compared with
the ffmpeg CLI's reading of the source (tests/timing_oracle.py): duration within one frame (plus
the 5 s an extend adds), frame rate within 1 %, frame count as duration and rate imply, audio as
long as the video within 40 ms and starting with it within 20 ms. What the input needed repairing
must be in the task's ``options.input_warnings``, and nothing on clean sources.

Bikes and carphone are not upscaled: their timestamps are clean, and turning 10 s and 4 s into 4K
costs more than the rest of a source's runs together; Big Buck Bunny is upscaled.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from footage import CONTENT_TYPES, HARD_CASES, REAL_CLIPS, build_case
from support import Api, Server, free_port, settings_for_test
from taxiway.media.probe import probe_file
from timing_oracle import artifact_problems, ffmpeg_reading

SOURCES = (*HARD_CASES, *REAL_CLIPS)
NOT_UPSCALED = {"bikes", "carphone_pristine"}
# A substring of the warning each damaged or oddly-timed source must carry; absent: no warnings.
WARNED = {
    "mkv-jump": "skip 25 frames in one place",
    "webm-jump": "skip 18 frames in one place",
    "ts-joined": "jump back by 0.96 s",
    "mkv-truncated": "is the file cut short?",
    "avi-damaged": "damaged",
    "mp4-bitflips": "damaged",
    # True gaps: ffmpeg's own reading of these files skips a frame too.
    "mp4-no-ctts": "skip one frame",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = settings_for_test(
        tmp_path_factory.mktemp("footage"), port=free_port(), workers=2, default_credits=100_000
    )
    server = Server(settings).start()
    user = server.new_user()
    user.create_account("footage@example.com", max_jobs=10)
    yield user
    server.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _requests(name: str, index: int, asset: str) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """Operation label -> (endpoint, body, expectations for timing_problems)."""
    upscale = (
        ("gen3alpha/upscale", {"assetId": asset})
        if index % 2
        else ("videos/upscale", {"videoAssetId": asset})
    )
    restyle = {"assetId": asset, "text_prompt": "sepia", "seconds": 5}
    expand = {"videoAssetId": asset, "outpaint_aspect_ratio": "portrait"}
    runs = {
        "video to video": ("gen3turbo/video", restyle, {"seconds": 5}),
        "expand": ("gen3turbo/expand", expand, {"seconds": 10}),  # the default: the source, at most 10 s
        "extend": ("gen3/extend", {"assetId": asset, "seconds": 5, "seed": 1}, {"added": 5}),
    }
    if name not in NOT_UPSCALED:
        runs["upscale"] = (*upscale, {})
    return runs


@pytest.mark.parametrize("name", SOURCES)
def test_every_operation_keeps_the_sources_timing(api: Api, corpus: Path, tmp_path: Path, name: str) -> None:
    source = build_case(name, corpus)
    reading = ffmpeg_reading(source, tmp_path)
    has_audio = probe_file(source, "video").has_audio
    asset = api.upload(source, CONTENT_TYPES[source.suffix])["assetId"]
    runs = _requests(name, SOURCES.index(name), asset)
    created = {label: api.create(path, body) for label, (path, body, _) in runs.items()}
    problems: dict[str, Any] = {}
    for label, response in created.items():
        assert response.status_code == 200, (label, response.text)
        task = api.wait(response.json()["taskId"], timeout=300)
        found = artifact_problems(task, tmp_path / f"{label}.mp4", reading, audio=has_audio, **runs[label][2])
        warnings = task["options"].get("input_warnings", [])
        if name in WARNED and not any(WARNED[name] in warning for warning in warnings):
            found.append(f"no warning saying {WARNED[name]!r}: {warnings}")
        if name not in WARNED and warnings:
            found.append(f"unexpected warnings {warnings}")
        if found:
            problems[label] = found
    assert not problems, (name, reading, problems)
