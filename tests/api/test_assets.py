"""Assets through HTTP: streamed uploads, probing, refusals with clear messages, list/get/delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mediafiles import make_video
from support import Api, Server


@pytest.fixture
def user(idle_server: Server) -> Api:
    api = idle_server.new_user()
    api.create_account("assets@example.com")
    return api


def upload_error(user: Api, body: bytes | Iterator[bytes], content_type: str | None, name: str = "x") -> str:
    headers = {"Content-Type": content_type} if content_type else {}
    response = user.http.post("/assets/", params={"name": name}, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 400
    return response.json()["error"]


def test_upload_video_and_image(user: Api, clip: Path, image: Path) -> None:
    video = user.upload(clip, "video/mp4", name="clip.mp4")
    assert video["assetId"].startswith("user:") and video["assetId"].endswith(f"-asset:{video['id']}")
    assert "runwayml:assets@example.com-asset:" in video["assetId"]
    assert video["mediaType"] == "video"
    assert video["fileSize"] == clip.stat().st_size
    assert video["metadata"] == {
        "frameRate": 24,
        "duration": 2,
        "width": 320,
        "height": 240,
        "dimensions": [320, 240],
        "size": {"width": 320, "height": 240},
        "hasAudio": True,
    }
    assert len(video["previewUrls"]) == 5
    preview = httpx.get(video["previewUrls"][0])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    assert preview.content[:2] == b"\xff\xd8"
    assert httpx.get(video["url"]).content == clip.read_bytes()

    still = user.upload(image, "image/png", name="still.png")
    assert still["mediaType"] == "image"
    assert still["metadata"]["dimensions"] == [320, 240]
    assert still["metadata"]["duration"] is None
    assert len(still["previewUrls"]) == 1

    assert user.http.get(f"/assets/{video['assetId']}").json()["name"] == "clip.mp4"
    listed = user.http.get("/assets/").json()
    assert [asset["id"] for asset in listed] == [still["id"], video["id"]]
    videos = user.http.get("/assets/", params={"mediaType": "video"}).json()
    assert [asset["id"] for asset in videos] == [video["id"]]
    page = user.http.get("/assets/", params={"offset": 1, "limit": 1}).json()
    assert [asset["id"] for asset in page] == [video["id"]]
    assert user.http.get("/assets/", params={"limit": 51}).json()["error"] == (
        "limit 51 is out of range; valid range: 1…50"
    )
    assert user.http.get("/assets/", params={"mediaType": "audio"}).json()["error"] == (
        "mediaType 'audio' is not supported; supported values: video, image"
    )


def test_other_containers_are_accepted(user: Api, media_dir: Path) -> None:
    for suffix, content_type in (
        (".mov", "video/quicktime"),
        (".webm", "video/webm"),
        (".mkv", "video/x-matroska"),
    ):
        path = make_video(media_dir / f"other{suffix}", width=160, height=90, seconds=1.0, fps=12, audio=True)
        asset = user.upload(path, content_type)
        assert asset["metadata"]["dimensions"] == [160, 90], suffix
        assert asset["metadata"]["hasAudio"] is True


def test_a_mislabelled_upload_is_stored_and_served_as_what_it_holds(
    user: Api, clip: Path, media_dir: Path
) -> None:
    mkv = make_video(media_dir / "really.mkv", width=160, height=90, seconds=1.0, fps=12)
    for path, declared, served, extension in (
        (clip, "video/x-msvideo", "video/mp4", ".mp4"),  # MP4 bytes sent as AVI
        (mkv, "video/mp4", "video/x-matroska", ".mkv"),
    ):
        asset = user.upload(path, declared)
        assert asset["url"].split("?")[0].endswith(f"/source{extension}"), asset["url"]
        response = httpx.get(asset["url"])
        assert response.status_code == 200
        assert response.headers["content-type"] == served
        assert response.content == path.read_bytes()


def test_delete_asset(user: Api, clip: Path) -> None:
    asset = user.upload(clip, "video/mp4")
    task = user.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    busy = user.http.delete(f"/assets/{asset['assetId']}")
    assert busy.status_code == 409
    assert busy.json() == {
        "error": f"Asset is an input of live task {task['taskId']}; cancel it or wait for it first",
        "code": 409,
    }
    user.http.delete(f"/tasks/{task['taskId']}")
    assert user.http.delete(f"/assets/{asset['assetId']}").status_code == 204
    assert user.http.get(f"/assets/{asset['assetId']}").json() == {
        "error": f"Unable to retrieve assetId {asset['assetId']} (Not found.)",
        "code": 404,
    }
    assert httpx.get(asset["url"]).status_code == 404


def test_refused_content_types(user: Api, clip: Path) -> None:
    assert upload_error(user, clip.read_bytes(), None).startswith(
        "A Content-Type header is required: send the file as the raw body with its media type, "
        "one of: video/mp4"
    )
    assert upload_error(user, b"x", "audio/mpeg").startswith(
        "Content-Type 'audio/mpeg' is not supported for assets"
    )
    multipart = user.http.post(
        "/assets/", params={"name": "x"}, files={"file": ("x.mp4", b"data", "video/mp4")}
    )
    assert multipart.status_code == 400
    assert "Content-Type 'multipart/form-data' is not supported" in multipart.json()["error"]


def test_name_is_required(user: Api, clip: Path) -> None:
    response = user.http.post("/assets/", content=clip.read_bytes(), headers={"Content-Type": "video/mp4"})
    assert response.json() == {"error": "name is required", "code": 400}


def test_empty_body(user: Api) -> None:
    assert upload_error(user, b"", "video/mp4").startswith("The request body is empty")


def test_size_limit_refuses_declared_and_streamed_uploads(make_server, clip: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=0, max_upload_bytes=100_000)
    user = server.new_user()
    user.create_account()
    declared = upload_error(user, clip.read_bytes(), "video/mp4")
    assert declared == "The file is 0.2 MiB; the upload limit is 0.1 MiB (TAXIWAY_MAX_UPLOAD_BYTES)"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        data = clip.read_bytes()
        for start in range(0, len(data), 16_384):
            yield data[start : start + 16_384]

    streamed = upload_error(user, chunks(), "video/mp4")
    assert streamed == "The file is larger than the upload limit of 0.1 MiB (TAXIWAY_MAX_UPLOAD_BYTES)"
    assert list((server.settings.scratch_dir / "uploads").iterdir()) == []
