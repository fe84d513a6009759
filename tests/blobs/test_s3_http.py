"""A whole server on S3 storage: uploads, a worker's artifact and deletes all go through the bucket."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from seaweed import BUCKET, SeaweedS3
from support import API, Server
from taxiway.media.probe import probe_file


def assert_presigned(url: str, seaweed: SeaweedS3, prefix: str) -> None:
    assert url.startswith(f"{seaweed.endpoint_url}/{BUCKET}/{prefix}/"), url
    assert "X-Amz-Signature=" in url


def test_assets_and_artifacts_live_in_s3(
    make_server: Callable[..., Server],
    s3_settings: dict[str, Any],
    seaweed: SeaweedS3,
    clip: Path,
    tmp_path: Path,
) -> None:
    prefix = s3_settings["s3_prefix"]
    server = make_server(**s3_settings)
    user = server.new_user()
    user.create_account("s3@example.com")

    # 1. Upload: the source and its previews land in the bucket, and come back as presigned links.
    asset = user.upload(clip, "video/mp4", name="clip.mp4")
    assert_presigned(asset["url"], seaweed, prefix)
    download = httpx.get(asset["url"])  # no bearer token: the link carries its own signature
    assert download.status_code == 200 and download.content == clip.read_bytes()
    assert download.headers["content-type"] == "video/mp4"
    for url in asset["previewUrls"]:
        assert_presigned(url, seaweed, prefix)
        assert httpx.get(url).content[:2] == b"\xff\xd8"
    uploaded = seaweed.keys(prefix)
    assert f"{prefix}/assets/{asset['id']}/source.mp4" in uploaded
    assert len(uploaded) == 1 + len(asset["previewUrls"])

    # The API's own file route has nothing to serve on this backend.
    response = httpx.get(f"{server.base_url}{API}/files/assets/{asset['id']}/source.mp4")
    assert response.status_code == 404
    assert response.json()["error"] == (
        "This server keeps files in object storage; use the url of the asset or task instead."
    )

    # 2. A worker process reads the input from S3 and writes its artifact there.
    task_id = user.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()["taskId"]
    task = user.wait(task_id)
    assert task["status"] == "SUCCEEDED", task["error"]
    artifact = task["artifacts"][0]
    assert_presigned(artifact["url"], seaweed, prefix)
    artifact_keys = [key for key in seaweed.keys(prefix) if key not in uploaded]
    output_key = next(key for key in artifact_keys if key.endswith(".mp4"))
    stored = seaweed.client().get_object(Bucket=BUCKET, Key=output_key)["Body"].read()
    fetched = httpx.get(artifact["url"])
    assert fetched.status_code == 200 and fetched.content == stored
    assert int(artifact["fileSize"]) == len(stored)
    out = tmp_path / "artifact.mp4"
    out.write_bytes(fetched.content)
    assert probe_file(out, "video").width > 320
    # Nothing went to the local blob folder.
    assert not server.settings.resolved_blob_dir.exists()

    # 3. Deleting the task removes its artifact's objects; deleting the asset removes the upload's.
    assert user.http.delete(f"/tasks/{task_id}").status_code == 204
    assert seaweed.keys(prefix) == uploaded
    assert user.http.delete(f"/assets/{asset['assetId']}").status_code == 204
    assert seaweed.keys(prefix) == []
    assert httpx.get(asset["url"]).status_code == 404
