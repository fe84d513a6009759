"""Every operation endpoint validates every field as the contract says, with a message naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support import Api, Server
from taxiway.store.models import Asset

VIDEO_FIELD = {
    "gen3alpha/upscale": "assetId",
    "videos/upscale": "videoAssetId",
    "gen3turbo/video": "assetId",
    "gen3turbo/expand": "videoAssetId",
    "gen3/extend": "assetId",
    "gen3turbo/extend": "assetId",
}
REQUIRED_EXTRA = {"gen3turbo/video": {"text_prompt": "noir"}}


@pytest.fixture
def user(idle_server: Server) -> Api:
    api = idle_server.new_user()
    api.create_account("v@example.com")
    return api


@pytest.fixture
def video(user: Api, clip: Path) -> dict[str, Any]:
    return user.upload(clip, "video/mp4", name="clip.mp4")


def body_for(path: str, asset_id: str, **fields: Any) -> dict[str, Any]:
    return {VIDEO_FIELD[path]: asset_id, **REQUIRED_EXTRA.get(path, {}), **fields}


def error_of(user: Api, path: str, body: dict[str, Any]) -> tuple[int, str]:
    response = user.create(path, body)
    payload = response.json()
    if response.status_code == 400:
        assert payload["code"] == 400
    return response.status_code, payload.get("error", "")


@pytest.mark.parametrize("path", VIDEO_FIELD)
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"seed": 0}, "seed 0 is out of range; valid range: 1…4294967294"),
        ({"seed": 4294967295}, "seed 4294967295 is out of range; valid range: 1…4294967294"),
        ({"seed": "abc"}, "seed must be an integer, got 'abc'"),
        ({"seed": 1.5}, "seed must be an integer, got 1.5"),
        ({"seed": True}, "seed must be an integer, got true"),
        ({"maxJobs": 0}, "maxJobs 0 is out of range; valid range: 1…10"),
        ({"maxJobs": 11}, "maxJobs 11 is out of range; valid range: 1…10"),
        ({"replyUrl": "https://example.com/" + "x" * 1010}, "replyUrl is 1030 characters long; at most 1024"),
        ({"replyRef": "r" * 1025}, "replyRef is 1025 characters long; at most 1024 characters"),
        ({"exploreMode": "maybe"}, "exploreMode must be true or false, got 'maybe'"),
        ({"maxJobs": "5.0"}, "maxJobs must be an integer, got '5.0'; valid range: 1…10"),
        ({"email": "not-an-email"}, "email is malformed; expected an email address like name@example.com"),
        ({"replyUrl": "ftp://x.org/"}, "replyUrl is malformed; expected an absolute http:// or https:// URL"),
        ({"colour": "red"}, "unknown field colour; supported fields:"),
    ],
)
def test_common_field_errors(user: Api, video: dict[str, Any], path: str, fields: dict, message: str) -> None:
    if "seed" in fields and path in ("gen3alpha/upscale", "videos/upscale"):
        message = "unknown field seed"
    status, error = error_of(user, path, body_for(path, video["assetId"], **fields))
    assert status == 400
    assert message in error


@pytest.mark.parametrize("path", VIDEO_FIELD)
def test_missing_malformed_and_unknown_assets(user: Api, path: str) -> None:
    field = VIDEO_FIELD[path]
    status, error = error_of(user, path, {k: v for k, v in body_for(path, "x").items() if k != field})
    assert (status, error) == (400, f"{field} is required")

    status, error = error_of(user, path, body_for(path, "not-an-asset-id"))
    assert status == 400
    assert error.startswith(f"{field} is malformed")

    unknown = "user:abc123-runwayml:v@example.com-asset:11111111-2222-3333-4444-555555555555"
    status, error = error_of(user, path, body_for(path, unknown))
    word = "assetId" if path == "videos/upscale" else field  # videos/upscale's page words it so
    assert (status, error) == (404, f"Unable to retrieve {word} {unknown} (Not found.)")


@pytest.mark.parametrize("path", VIDEO_FIELD)
def test_an_image_is_not_a_video(user: Api, image: Path, path: str) -> None:
    still = user.upload(image, "image/png")
    status, error = error_of(user, path, body_for(path, still["assetId"]))
    assert status == 400
    assert error == f"{VIDEO_FIELD[path]} {still['assetId']} is an image; {path} needs a video asset"


def test_another_users_asset_is_not_found(idle_server: Server, video: dict[str, Any]) -> None:
    other = idle_server.new_user()
    other.create_account("o@example.com")
    status, error = error_of(other, "gen3alpha/upscale", {"assetId": video["assetId"]})
    assert status == 404
    assert error == f"Unable to retrieve assetId {video['assetId']} (Not found.)"


@pytest.mark.parametrize(
    ("path", "fields", "message"),
    [
        ("gen3turbo/video", {"text_prompt": None}, "text_prompt is required"),
        ("gen3turbo/video", {"text_prompt": "   "}, "text_prompt must not be empty"),
        ("gen3turbo/video", {"text_prompt": "p" * 1001}, "text_prompt is 1001 characters long"),
        (
            "gen3turbo/video",
            {"structure_transformation": 11},
            "structure_transformation 11 is out of range; valid range: 0…10",
        ),
        (
            "gen3turbo/video",
            {"structure_transformation": -0.5},
            "structure_transformation -0.5 is out of range",
        ),
        (
            "gen3turbo/video",
            {"aspect_ratio": "square"},
            "aspect_ratio 'square' is not supported; supported values: landscape, portrait",
        ),
        ("gen3turbo/video", {"seconds": 7}, "seconds 7 is not supported; supported values: 5, 10"),
        (
            "gen3turbo/video",
            {"resolution": "1080p"},
            "resolution '1080p' is not supported; supported values: 720p",
        ),
        ("gen3turbo/expand", {"seconds": 8}, "seconds 8 is not supported; supported values: 5, 10"),
        (
            "gen3turbo/expand",
            {"outpaint_aspect_ratio": "4:3"},
            "outpaint_aspect_ratio '4:3' is not supported",
        ),
        ("gen3turbo/expand", {"imageAssetId": "bad"}, "imageAssetId is malformed"),
        ("gen3/extend", {"seconds": 8}, "seconds 8 is not supported; supported values: 5, 10"),
        ("gen3turbo/extend", {"seconds": 5}, "unknown field seconds"),
    ],
)
def test_operation_specific_errors(
    user: Api, video: dict[str, Any], path: str, fields: dict, message: str
) -> None:
    body = body_for(path, video["assetId"]) | fields
    body = {key: value for key, value in body.items() if value is not None}
    status, error = error_of(user, path, body)
    assert status == 400
    assert message in error


def test_several_problems_are_reported_together(user: Api, video: dict[str, Any]) -> None:
    status, error = error_of(user, "gen3/extend", {"assetId": video["assetId"], "seconds": 3, "seed": 0})
    assert status == 400
    assert "seconds 3 is not supported" in error
    assert "seed 0 is out of range" in error


def test_expand_guide_must_be_an_image(user: Api, video: dict[str, Any]) -> None:
    status, error = error_of(
        user, "gen3turbo/expand", {"videoAssetId": video["assetId"], "imageAssetId": video["assetId"]}
    )
    assert status == 400
    assert error == f"imageAssetId {video['assetId']} is a video; it must be an image asset"


def test_body_must_be_a_json_object(user: Api) -> None:
    response = user.http.post("/gen3alpha/upscale", json=["not", "an", "object"])
    assert response.status_code == 400
    assert response.json()["error"] == "The request body must be a JSON object"


def test_multipart_form_bodies_work_like_json(user: Api, video: dict[str, Any]) -> None:
    response = user.http.post(
        "/gen3turbo/video",
        files={
            "assetId": (None, video["assetId"]),
            "text_prompt": (None, "noir"),
            "seconds": (None, "5"),
            "exploreMode": (None, "false"),
            "seed": (None, "42"),
        },
    )
    assert response.status_code == 200, response.text
    options = response.json()["options"]
    assert options["seconds"] == 5
    assert options["seed"] == 42


def test_upscale_source_longer_than_40_seconds(user: Api, media_dir: Path) -> None:
    from mediafiles import make_video

    long_clip = make_video(media_dir / "long.mp4", width=64, height=48, seconds=41.0, fps=2, audio=False)
    asset = user.upload(long_clip, "video/mp4")
    for path, field in (("videos/upscale", "videoAssetId"), ("gen3alpha/upscale", "assetId")):
        status, error = error_of(user, path, {field: asset["assetId"]})
        assert status == 400
        assert error == f"{field} duration (41.00s) exceeds maximum 40s for video upscale"


def test_extend_total_limit(user: Api, media_dir: Path) -> None:
    from mediafiles import make_video

    clip = make_video(media_dir / "thirty-six.mp4", width=64, height=48, seconds=36.0, fps=2, audio=False)
    asset = user.upload(clip, "video/mp4")
    status, error = error_of(user, "gen3/extend", {"assetId": asset["assetId"], "seconds": 5})
    assert status == 400
    assert error == (
        "assetId is 36.00s long; extending it by 5s would make 41.00s, "
        "over the 40s maximum of an extended video"
    )
    status, _ = error_of(user, "gen3/extend", {"assetId": asset["assetId"], "seconds": 5, "maxJobs": 1})
    assert status == 400
    # gen3turbo extends by 8 s, also over the limit.
    status, error = error_of(user, "gen3turbo/extend", {"assetId": asset["assetId"]})
    assert status == 400
    assert "extending it by 8s would make 44.00s" in error


def test_extend_count_limit(idle_server: Server, user: Api, video: dict[str, Any]) -> None:
    # Extension lineage is recorded on artifacts by the extend engine; here it is set directly
    # so the rule is tested on its own.
    with idle_server.ctx.db.write() as session:
        session.get(Asset, video["id"]).extended_count = 3
    status, error = error_of(user, "gen3/extend", {"assetId": video["assetId"]})
    assert status == 400
    assert error == "assetId has already been extended 3 times; a video can be extended at most 3 times"


def test_restyle_options_say_which_look_the_prompt_selects(user: Api, video: dict[str, Any]) -> None:
    noir = user.create(
        "gen3turbo/video", {"assetId": video["assetId"], "text_prompt": "a Black and White chase"}
    )
    assert noir.json()["options"]["look"] == "noir"
    assert noir.json()["options"]["look_note"] == "look 'noir' (matched 'black and white')"
    plain = user.create("gen3turbo/video", {"assetId": video["assetId"], "text_prompt": "make it epic"})
    assert plain.json()["options"]["look"] == "cinematic"
    assert plain.json()["options"]["look_note"] == (
        "no look recognised in the prompt; using the default look 'cinematic'"
    )
