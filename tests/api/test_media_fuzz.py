"""Media fuzzing through a running server: mutants of real files (tests/mediafuzz.py), uploaded and
run through every operation. Each must end in a 400 at upload (or at create) or in a task that
SUCCEEDED or FAILED with a reason a user can act on, within its time limit; none may hang, none may
be an internal error, and the server stays healthy with every worker slot alive.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from footage import build_case, real_clip
from mediafiles import make_image
from mediafuzz import mutants
from support import Api, Server

CONTENT_TYPES = {"mp4": "video/mp4", "avi": "video/x-msvideo", "webm": "video/webm", "png": "image/png"}
# What a FAILED task may say: the input's fault, in words. Not INTERNAL_ERROR (a bug), TIME_LIMIT (a
# hang on a two-second clip) or ATTEMPTS_EXHAUSTED (a worker crashing on it every time).
CLEAR_REASONS = {"INVALID_INPUT", "INPUT_UNDECODABLE", "INPUT_MISSING"}


def _operations(asset: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("gen3turbo/video", {"assetId": asset, "text_prompt": "sepia", "seconds": 5}),
        ("gen3turbo/expand", {"videoAssetId": asset, "outpaint_aspect_ratio": "portrait"}),
        ("gen3/extend", {"assetId": asset, "seconds": 5, "seed": 1}),
        ("gen3alpha/upscale", {"assetId": asset}),
    ]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("fuzz")
    seeds = [
        (real_clip("carphone_pristine"), "mp4"),  # real H.264 footage, no audio
        (build_case("mp4-late-audio", folder), "mp4"),  # H.264 + AAC
        (build_case("avi-bframes", folder), "avi"),  # MPEG-4 Part 2 with B-frames
        (build_case("webm-jump", folder), "webm"),  # VP9 + Opus
        (make_image(folder / "still.png", width=64, height=48), "png"),
    ]
    return [(path, kind) for seed, kind in seeds for path in mutants(seed, kind, folder / "mutants")]


def _wait_all(api: Api, live: dict[str, str], results: dict[str, dict[str, Any]], keep: int) -> None:
    """Wait until at most ``keep`` of ``live`` (mutant -> task id) are unfinished."""
    while len(live) > keep:
        name, task_id = next(iter(live.items()))
        results[name] = api.wait(task_id, timeout=120)
        assert results[name]["status"] in ("SUCCEEDED", "FAILED"), (name, results[name])
        del live[name]


def test_mutated_media_ends_in_a_clear_refusal_or_a_clear_result(
    make_server: Callable[..., Server], corpus: list[tuple[Path, str]]
) -> None:
    server = make_server(workers=2, task_time_limit_seconds=60)
    api = server.new_user()
    api.create_account(max_jobs=10)
    outcome: dict[str, str] = {}
    messages: dict[str, str] = {}
    live: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for index, (path, kind) in enumerate(corpus):
        name = path.name
        response = api.http.post(
            "/assets/",
            params={"name": name},
            content=path.read_bytes(),
            headers={"Content-Type": CONTENT_TYPES[kind]},
        )
        assert response.status_code in (200, 400), (name, response.status_code, response.text)
        body = response.json()
        if response.status_code == 400:
            assert set(body) == {"error", "code"} and body["error"] and "Internal" not in body["error"], name
            outcome[name] = "refused at upload"
            messages[name] = body["error"]
            continue
        if kind == "png":
            outcome[name] = "stored"
            continue
        endpoint, request = _operations(body["assetId"])[index % 4]
        created = api.create(endpoint, request)
        assert created.status_code in (200, 400), (name, endpoint, created.text)
        if created.status_code == 400:
            assert created.json()["error"], name
            outcome[name] = "refused at create"
            messages[name] = created.json()["error"]
            continue
        live[name] = created.json()["taskId"]
        _wait_all(api, live, results, keep=6)
    _wait_all(api, live, results, keep=0)

    for name, task in results.items():
        if task["status"] == "FAILED":
            error = task["error"]
            assert error["reason"] in CLEAR_REASONS and error["errorMessage"], (name, error)
        outcome[name] = f"{task['status']} {task['error']['reason'] if task['error'] else ''}".strip()
    health = api.http.get(server.base_url + "/health").json()
    assert health["status"] == "ok" and health["workers"] == {"slots": 2, "idle": 2}, health
    tally = Counter(outcome.values())
    print(f"\nmedia fuzz: {len(corpus)} mutants in {time.monotonic() - started:.0f} s: {dict(tally)}")
    for name, message in messages.items():
        print(f"  {name}: {message}")
