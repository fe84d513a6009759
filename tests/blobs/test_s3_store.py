"""The S3 blob store against a real S3 server (SeaweedFS on loopback)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from seaweed import BUCKET, SeaweedS3
from support import free_port
from taxiway.blobs import s3
from taxiway.blobs.base import BlobNotFound, BlobStoreUnavailable
from taxiway.blobs.factory import open_blob_store
from taxiway.blobs.s3 import S3BlobStore
from taxiway.core.settings import Settings

PART = 5 * 1024**2  # S3's smallest multipart part


def make_store(seaweed: SeaweedS3, scratch: Path, **overrides: Any) -> S3BlobStore:
    values: dict[str, Any] = {
        "bucket": BUCKET,
        "scratch_dir": scratch,
        "prefix": f"unit-{secrets.token_hex(6)}",
        "endpoint_url": seaweed.endpoint_url,
        "region": "us-east-1",
        "access_key_id": "taxiway-test",
        "secret_access_key": "taxiway-test-secret",
        "addressing_style": "path",
        "part_bytes": PART,
    }
    values.update(overrides)
    return S3BlobStore(**values)


@pytest.fixture
def store(seaweed: SeaweedS3, tmp_path: Path) -> S3BlobStore:
    return make_store(seaweed, tmp_path / "scratch")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_put_size_and_local_path(store: S3BlobStore, seaweed: SeaweedS3, tmp_path: Path) -> None:
    source = write(tmp_path / "clip.mp4", b"not really a video" * 100)
    assert store.put_file("assets/a1/source.mp4", source) == 1800
    assert not source.exists(), "put_file consumes its source"
    assert store.size("assets/a1/source.mp4") == 1800

    # The object sits under the configured prefix, typed so browsers play it from a link.
    head = seaweed.client().head_object(Bucket=BUCKET, Key=f"{store.prefix}/assets/a1/source.mp4")
    assert head["ContentType"] == "video/mp4"

    with store.local_path("assets/a1/source.mp4") as path:
        assert path.read_bytes() == b"not really a video" * 100
        assert path.suffix == ".mp4" and path.is_relative_to(store.scratch_dir)
    assert not path.exists(), "the downloaded copy is removed when the context exits"


def test_missing_keys(store: S3BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.size("assets/nothing/source.mp4")
    with pytest.raises(BlobNotFound), store.local_path("assets/nothing/source.mp4"):
        pass
    assert list((store.scratch_dir / "downloads").iterdir()) == [], "no partial download left behind"
    store.delete("assets/nothing/source.mp4")  # missing is not an error
    store.delete_prefix("assets/nothing")


def test_keys_are_checked(store: S3BlobStore, tmp_path: Path) -> None:
    source = write(tmp_path / "x.bin", b"x")
    for key in ("../escape", "/absolute", "a//b"):
        with pytest.raises(ValueError, match="invalid blob key"):
            store.put_file(key, source)


def test_delete_and_delete_prefix_in_batches(
    store: S3BlobStore, seaweed: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny pages and batches, so listing and deleting both take several rounds.
    monkeypatch.setattr(s3, "LIST_PAGE", 2)
    monkeypatch.setattr(s3, "DELETE_BATCH", 2)
    keys = ["tasks/t1/output.mp4", "tasks/t1/preview-0.jpg", "tasks/t1/preview-1.jpg", "tasks/t1/sub/x.bin"]
    for key in [*keys, "tasks/t10/output.mp4", "tasks/t2/output.mp4"]:
        store.put_file(key, write(tmp_path / "blob", key.encode()))

    store.delete("tasks/t2/output.mp4")
    with pytest.raises(BlobNotFound):
        store.size("tasks/t2/output.mp4")

    store.delete_prefix("tasks/t1/")
    # Only what is under "tasks/t1/" went: "tasks/t10" shares the letters but not the folder.
    assert seaweed.keys(store.prefix) == [f"{store.prefix}/tasks/t10/output.mp4"]


def test_multipart_upload(store: S3BlobStore, seaweed: SeaweedS3, tmp_path: Path) -> None:
    data = os.urandom(2 * PART + 12345)
    store.put_file("assets/big/source.mp4", write(tmp_path / "big.mp4", data))
    head = seaweed.client().head_object(Bucket=BUCKET, Key=f"{store.prefix}/assets/big/source.mp4")
    assert head["ETag"].strip('"').endswith("-3"), "three parts: a multipart upload"
    assert store.size("assets/big/source.mp4") == len(data)
    with store.local_path("assets/big/source.mp4") as path:
        assert path.read_bytes() == data


def test_presigned_links(store: S3BlobStore, tmp_path: Path) -> None:
    store.put_file("assets/p/preview-0.jpg", write(tmp_path / "p.jpg", b"\xff\xd8jpeg"))
    url = store.url_for("assets/p/preview-0.jpg")
    response = httpx.get(url)
    assert response.status_code == 200 and response.content == b"\xff\xd8jpeg"
    assert response.headers["content-type"] == "image/jpeg"

    # Without the signature, or with a forged one, the server refuses.
    bare = url.split("?", 1)[0]
    assert httpx.get(bare).status_code == 403
    forged = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(forged).status_code == 403


def test_link_lifetime_is_capped_at_seven_days(seaweed: SeaweedS3, tmp_path: Path) -> None:
    def expires(store: S3BlobStore) -> int:
        query = parse_qs(urlsplit(store.url_for("assets/x/source.mp4")).query)
        return int(query["X-Amz-Expires"][0])

    assert expires(make_store(seaweed, tmp_path, link_ttl_seconds=3600)) == 3600
    assert expires(make_store(seaweed, tmp_path, link_ttl_seconds=30 * 24 * 3600)) == 7 * 24 * 3600


def test_links_for_a_public_endpoint(seaweed: SeaweedS3, tmp_path: Path) -> None:
    """Links are signed for the address clients use, not the one the servers use."""
    public = seaweed.endpoint_url.replace("127.0.0.1", "localhost")
    store = make_store(seaweed, tmp_path, public_endpoint_url=public)
    store.put_file("assets/q/source.mp4", write(tmp_path / "q.mp4", b"public"))
    url = store.url_for("assets/q/source.mp4")
    assert url.startswith(public + "/")
    assert httpx.get(url).content == b"public"


def s3_settings_for(seaweed: SeaweedS3, tmp_path: Path, **overrides: Any) -> Settings:
    values = seaweed.settings_overrides(prefix="factory") | {"data_dir": tmp_path} | overrides
    return Settings(**values)


def test_factory_builds_the_configured_store(seaweed: SeaweedS3, tmp_path: Path) -> None:
    store = open_blob_store(s3_settings_for(seaweed, tmp_path, s3_prefix="/factory/"))
    assert isinstance(store, S3BlobStore)
    assert store.prefix == "factory" and store.bucket == BUCKET


def test_missing_bucket_is_a_clear_startup_error(seaweed: SeaweedS3, tmp_path: Path) -> None:
    settings = s3_settings_for(seaweed, tmp_path, s3_bucket="taxiway-missing")
    with pytest.raises(BlobStoreUnavailable) as caught:
        open_blob_store(settings)
    message = str(caught.value)
    assert "'taxiway-missing'" in message and seaweed.endpoint_url in message
    assert "TAXIWAY_S3_CREATE_BUCKET=1" in message


def test_bucket_created_on_request(seaweed: SeaweedS3, tmp_path: Path) -> None:
    bucket = f"taxiway-new-{secrets.token_hex(3)}"
    settings = s3_settings_for(seaweed, tmp_path, s3_bucket=bucket, s3_create_bucket=True)
    store = open_blob_store(settings)
    open_blob_store(settings)  # a second process finds it there: no error
    assert isinstance(store, S3BlobStore)
    store.put_file("a/b.txt", write(tmp_path / "b.txt", b"b"))
    assert store.size("a/b.txt") == 1
    store.delete_prefix("a")
    seaweed.client().delete_bucket(Bucket=bucket)


def test_wrong_credentials_are_a_clear_startup_error(seaweed: SeaweedS3, tmp_path: Path) -> None:
    settings = s3_settings_for(seaweed, tmp_path, s3_secret_access_key="not-the-secret")
    with pytest.raises(BlobStoreUnavailable, match="refused access"):
        open_blob_store(settings)


def test_unreachable_endpoint_is_a_clear_startup_error(seaweed: SeaweedS3, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = s3_settings_for(seaweed, tmp_path, s3_endpoint_url=endpoint)
    with pytest.raises(BlobStoreUnavailable, match="cannot be used") as caught:
        open_blob_store(settings)
    assert endpoint in str(caught.value)
