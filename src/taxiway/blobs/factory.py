"""The one place a blob store is built from Settings: API processes and worker processes alike."""

from __future__ import annotations

from taxiway.blobs.base import BlobStore, BlobStoreUnavailable
from taxiway.blobs.local import LocalBlobStore
from taxiway.core.settings import Settings


def open_blob_store(settings: Settings) -> BlobStore:
    """The configured store, checked usable (BlobStoreUnavailable with the reason otherwise)."""
    if settings.blob_backend == "local":
        return LocalBlobStore(settings.resolved_blob_dir)
    try:
        from taxiway.blobs.s3 import S3BlobStore
    except ModuleNotFoundError as exc:  # boto3 is an optional extra
        if exc.name not in ("boto3", "botocore", "s3transfer"):
            raise
        raise BlobStoreUnavailable(
            "blob_backend 's3' needs boto3: install taxiway with the s3 extra (pip install 'taxiway[s3]')"
        ) from None
    store = S3BlobStore(
        bucket=settings.s3_bucket,
        scratch_dir=settings.scratch_dir,
        prefix=settings.s3_prefix,
        endpoint_url=settings.s3_endpoint_url or None,
        public_endpoint_url=settings.s3_public_endpoint_url or None,
        region=settings.s3_region or None,
        access_key_id=settings.s3_access_key_id or None,
        secret_access_key=settings.s3_secret_access_key or None,
        addressing_style=settings.s3_addressing_style,
        link_ttl_seconds=settings.signed_url_ttl_seconds,
        part_bytes=settings.s3_multipart_part_bytes,
    )
    store.check_bucket(create=settings.s3_create_bucket)
    return store
