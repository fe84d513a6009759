"""Blobs in an S3-compatible bucket (AWS, MinIO, SeaweedFS, R2); downloads go by presigned links."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from taxiway.blobs.base import BlobNotFound, BlobStoreUnavailable
from taxiway.core.keys import check_key
from taxiway.core.scratch import working_dir
from taxiway.media.formats import content_type_of

# S3 refuses presigned links that live longer than seven days (SigV4's limit).
MAX_LINK_SECONDS = 7 * 24 * 3600
# DeleteObjects takes at most 1000 keys a call; ListObjectsV2 returns at most 1000 a page.
DELETE_BATCH = 1000
LIST_PAGE = 1000
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_DENIED_CODES = frozenset({"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"})

AddressingStyle = Literal["auto", "path", "virtual"]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def make_client(
    endpoint_url: str | None,
    *,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    addressing_style: AddressingStyle,
) -> Any:
    """A boto3 S3 client; no keys means boto3's own credential chain (environment, ~/.aws, role)."""
    session = boto3.session.Session(
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        region_name=region or None,
    )
    # boto3 >= 1.36 adds CRC checksums to every upload by default; several S3-compatible stores
    # refuse those headers, so off AWS they are sent only where the API requires them.
    checksums = "when_required" if endpoint_url else "when_supported"
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        retries={"mode": "standard"},
        connect_timeout=10,
        request_checksum_calculation=checksums,
        response_checksum_validation=checksums,
    )
    return session.client("s3", endpoint_url=endpoint_url or None, config=config)


class S3BlobStore:
    """Keys live under an optional prefix in one bucket; workers download inputs to scratch files."""

    def __init__(
        self,
        *,
        bucket: str,
        scratch_dir: Path,
        prefix: str = "",
        endpoint_url: str | None = None,
        public_endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: AddressingStyle = "auto",
        link_ttl_seconds: int = 3600,
        part_bytes: int = 64 * 1024**2,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url or None
        self.scratch_dir = scratch_dir
        self.link_ttl_seconds = min(link_ttl_seconds, MAX_LINK_SECONDS)
        credentials = {
            "region": region,
            "access_key_id": access_key_id,
            "secret_access_key": secret_access_key,
            "addressing_style": addressing_style,
        }
        self.client = make_client(self.endpoint_url, **credentials)
        # SigV4 signs the host, so links for clients must be signed against the address they use.
        self._presigner = (
            make_client(public_endpoint_url, **credentials) if public_endpoint_url else self.client
        )
        self._transfer = TransferConfig(multipart_threshold=part_bytes, multipart_chunksize=part_bytes)

    @property
    def where(self) -> str:
        """The bucket and endpoint, for error messages an operator can act on."""
        return f"bucket {self.bucket!r} at {self.endpoint_url or 'AWS S3'}"

    def object_key(self, key: str) -> str:
        """The S3 object key of a blob key: the configured prefix, then the key."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # --- startup ---

    def check_bucket(self, *, create: bool = False) -> None:
        """Fail fast with a clear message when the bucket is missing or out of reach."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = error_code(exc)
            if code in _MISSING_CODES and create:
                self._create_bucket()
                self.check_bucket()
                return
            if code in _MISSING_CODES:
                raise BlobStoreUnavailable(
                    f"S3 {self.where} does not exist; create it, or set s3_create_bucket "
                    "(TAXIWAY_S3_CREATE_BUCKET=1) to have taxiway create it"
                ) from None
            if code in _DENIED_CODES:
                raise BlobStoreUnavailable(
                    f"S3 {self.where} refused access ({code}); check s3_access_key_id and "
                    "s3_secret_access_key, or the credentials boto3 found"
                ) from None
            raise BlobStoreUnavailable(f"S3 {self.where} answered {code}: {exc}") from None
        except BotoCoreError as exc:  # unreachable endpoint, no credentials at all, ...
            raise BlobStoreUnavailable(f"S3 {self.where} cannot be used: {exc}") from None

    def _create_bucket(self) -> None:
        region = self.client.meta.region_name
        extra: dict[str, Any] = {}
        if self.endpoint_url is None and region and region != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:
            # Another process may have just created it; the check that follows tells if it is ours.
            if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise BlobStoreUnavailable(f"S3 {self.where} could not be created: {exc}") from None

    # --- the BlobStore protocol ---

    def put_file(self, key: str, source: Path) -> int:
        size = source.stat().st_size
        content_type = content_type_of(key)
        # upload_file switches to a parallel multipart upload above the threshold.
        self.client.upload_file(
            str(source),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=self._transfer,
        )
        source.unlink()
        return size

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        # Engines decode with PyAV, which wants a seekable local file rather than a stream.
        # In a working directory its process holds: a killed worker's download is swept later.
        with working_dir(self.scratch_dir / "downloads", "blob-") as folder:
            path = folder / f"blob{Path(key).suffix}"
            try:
                self.client.download_file(self.bucket, self.object_key(key), str(path), Config=self._transfer)
            except ClientError as exc:
                if error_code(exc) in _MISSING_CODES:
                    raise BlobNotFound(key) from None
                raise
            yield path

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if error_code(exc) in _MISSING_CODES:
                raise BlobNotFound(key) from None
            raise
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        # S3 answers 204 for a missing key too, matching the protocol's "not an error".
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def delete_prefix(self, prefix: str) -> None:
        base = self.object_key(prefix.rstrip("/"))
        batch = [base]  # the prefix itself may name a blob, as it may name a file locally
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base + "/", PaginationConfig={"PageSize": LIST_PAGE}
        )
        for page in pages:
            for item in page.get("Contents", []):
                batch.append(item["Key"])
                if len(batch) >= DELETE_BATCH:
                    self._delete_objects(batch)
                    batch = []
        if batch:
            self._delete_objects(batch)

    def _delete_objects(self, keys: list[str]) -> None:
        response = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        errors = [error for error in response.get("Errors", []) if error.get("Code") != "NoSuchKey"]
        if errors:
            first = errors[0]
            raise RuntimeError(
                f"S3 {self.where} kept {len(errors)} object(s) it was asked to delete; "
                f"first {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
            )

    def url_for(self, key: str) -> str:
        return str(
            self._presigner.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self.object_key(key)},
                ExpiresIn=self.link_ttl_seconds,
            )
        )
