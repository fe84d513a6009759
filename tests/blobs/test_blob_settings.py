"""Choosing the blob backend by settings, and which links each backend gives (no S3 server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from taxiway.blobs.factory import open_blob_store
from taxiway.blobs.links import FILES_PREFIX, Links
from taxiway.blobs.local import LocalBlobStore
from taxiway.core.security import LinkSigner
from taxiway.core.settings import Settings


def test_local_is_the_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.blob_backend == "local"
    assert isinstance(open_blob_store(settings), LocalBlobStore)


def test_s3_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAXIWAY_BLOB_BACKEND", "s3")
    monkeypatch.setenv("TAXIWAY_S3_BUCKET", "media")
    monkeypatch.setenv("TAXIWAY_S3_PREFIX", "/taxiway/prod/")
    monkeypatch.setenv("TAXIWAY_S3_ENDPOINT_URL", "http://minio:9000/")
    settings = Settings(data_dir=tmp_path)
    assert (settings.blob_backend, settings.s3_bucket, settings.s3_prefix) == ("s3", "media", "taxiway/prod")
    assert settings.s3_endpoint_url == "http://minio:9000"
    # Worker processes get their settings as JSON: the secret must survive the trip.
    keyed = Settings(data_dir=tmp_path, s3_access_key_id="id", s3_secret_access_key="secret")
    assert Settings(**keyed.model_dump(mode="json")).s3_secret_access_key == "secret"


def test_s3_without_a_bucket_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"no bucket is set: set s3_bucket \(TAXIWAY_S3_BUCKET\)"):
        Settings(data_dir=tmp_path, blob_backend="s3")


def test_half_a_key_pair_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="set both s3_access_key_id and s3_secret_access_key"):
        Settings(data_dir=tmp_path, blob_backend="s3", s3_bucket="media", s3_access_key_id="id")


def test_bad_prefix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="invalid blob key"):
        Settings(data_dir=tmp_path, s3_prefix="a/../b")


class _DirectStore(LocalBlobStore):
    def url_for(self, key: str) -> str:  # type: ignore[override]
        return f"https://cdn.example.com/{key}?signed"


def test_links_prefer_the_store_s_own(tmp_path: Path) -> None:
    signer = LinkSigner(b"k" * 32, 3600)
    local = Links(signer, "http://api.example.com/", LocalBlobStore(tmp_path))
    assert local.blob("assets/a/source.mp4").startswith(f"http://api.example.com{FILES_PREFIX}assets/a/")
    direct = Links(signer, "http://api.example.com", _DirectStore(tmp_path))
    assert direct.blob("assets/a/source.mp4") == "https://cdn.example.com/assets/a/source.mp4?signed"
    assert direct.blobs(["a/1.jpg", "a/2.jpg"]) == [
        "https://cdn.example.com/a/1.jpg?signed",
        "https://cdn.example.com/a/2.jpg?signed",
    ]
    assert direct.blob(None) is None
