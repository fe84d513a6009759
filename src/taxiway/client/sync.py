"""The blocking client (httpx.Client)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Unpack

import httpx

from taxiway.client.calls import AspectRatio, AssetRef, ExpandAspect, TaskOptions, TaskRef
from taxiway.client.connection import CHUNK_BYTES, Connection, partial_path, request_headers
from taxiway.client.effects import ByteSource, Download, Effect, Flow, Notify, Request, Sleep, T, UploadBody
from taxiway.client.endpoints import Endpoints
from taxiway.client.errors import ApiError, error_from_response
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.models import Account, Asset, Credits, Engines, Task


class Client:
    """A blocking client for any server speaking the Runway (useapi.net) contract.

    `base_url` and `token` default to TAXIWAY_BASE_URL (else http://127.0.0.1:8000) and TAXIWAY_API_TOKEN.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        policy: Policy | None = None,
        timeout: float = 60.0,
        on_busy: Callable[[BusyWait], Any] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.connection = Connection.resolve(base_url, token)
        self.policy = policy or Policy()
        self._endpoints = Endpoints(self.policy, on_busy)
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=True)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Operations: each returns the new task at once; wait() follows it.

    def upscale(self, asset: AssetRef, **options: Unpack[TaskOptions]) -> Task:
        """Upscale a video of at most 40 s to 4K class (videos/upscale)."""
        return self._run(self._endpoints.upscale(asset, options))

    def restyle(
        self,
        asset: AssetRef,
        prompt: str,
        *,
        strength: float | None = None,
        aspect_ratio: AspectRatio | None = None,
        seconds: int | None = None,
        seed: int | None = None,
        **options: Unpack[TaskOptions],
    ) -> Task:
        """Video to video guided by a prompt (gen3turbo/video); strength is structure_transformation 0…10."""
        return self._run(
            self._endpoints.restyle(asset, prompt, strength, aspect_ratio, seconds, seed, options)
        )

    def expand(
        self,
        asset: AssetRef,
        *,
        aspect_ratio: ExpandAspect | None = None,
        image: AssetRef | None = None,
        prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
        **options: Unpack[TaskOptions],
    ) -> Task:
        """Outpaint a video to landscape 5:3 or portrait 3:5, or to 16:9 or 9:16 (gen3turbo/expand)."""
        return self._run(self._endpoints.expand(asset, aspect_ratio, image, prompt, seconds, seed, options))

    def extend(
        self,
        asset: AssetRef,
        *,
        seconds: int | None = None,
        prompt: str | None = None,
        seed: int | None = None,
        turbo: bool = False,
        **options: Unpack[TaskOptions],
    ) -> Task:
        """Add 5 or 10 seconds (gen3/extend), or 8 with turbo=True (gen3turbo/extend)."""
        return self._run(self._endpoints.extend(asset, seconds, prompt, seed, turbo, options))

    def create(self, path: str, body: dict[str, object]) -> Task:
        """Any operation by its path (e.g. "gen3alpha/upscale"), with a body in the contract's names."""
        return self._run(self._endpoints.create(path, body))

    # Tasks

    def get_task(self, task: TaskRef) -> Task:
        return self._run(self._endpoints.get_task(task))

    def list_tasks(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        statuses: list[str] | None = None,
        email: str | None = None,
    ) -> list[Task]:
        """Your tasks, newest first."""
        return self._run(self._endpoints.list_tasks(offset, limit, statuses, email))

    def cancel_task(self, task: TaskRef) -> Task:
        """Cancel a live task; answers its state after (a finished task is left as it is)."""
        return self._run(self._endpoints.cancel_task(task))

    def delete_task(self, task: TaskRef) -> Task | None:
        """Delete a finished task and its artifacts (None); a live one is cancelled instead (the task)."""
        return self._run(self._endpoints.delete_task(task))

    def wait(
        self,
        task: TaskRef,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Task], Any] | None = None,
    ) -> Task:
        """Poll until SUCCEEDED (the task); raises TaskFailed, TaskCancelled or Timeout."""
        return self._run(self._endpoints.wait(task, timeout, on_progress))

    def download(self, task: TaskRef, target: str | os.PathLike[str], *, index: int = 0) -> Path:
        """Stream a finished task's artifact to `target` (a file, or a folder to keep its filename)."""
        return self._run(self._endpoints.download(task, target, index))

    # Assets

    def upload(
        self,
        source: str | os.PathLike[str] | IO[bytes] | ByteSource,
        *,
        name: str | None = None,
        email: str | None = None,
        content_type: str | None = None,
    ) -> Asset:
        """Upload a file path or binary stream, streamed in chunks (never read whole into memory)."""
        return self._run(self._endpoints.upload(source, name, email, content_type))

    def get_asset(self, asset: AssetRef) -> Asset:
        return self._run(self._endpoints.get_asset(asset))

    def list_assets(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        media_type: str | None = None,
        email: str | None = None,
        group: str | None = None,
        sha256: str | None = None,
    ) -> list[Asset]:
        """Newest first. ``group`` (an assetGroupId) and ``sha256`` (of an uploaded file's bytes)
        are taxiway's filters: a server without them ignores them."""
        return self._run(self._endpoints.list_assets(offset, limit, media_type, email, group, sha256))

    def delete_asset(self, asset: AssetRef) -> None:
        self._run(self._endpoints.delete_asset(asset))

    # Accounts

    def set_account(self, email: str, *, max_jobs: int, reply_url: str | None = None) -> Account:
        """Create an account or change its maxJobs (1…10) and replyUrl."""
        return self._run(self._endpoints.set_account(email, max_jobs, reply_url))

    def list_accounts(self) -> list[Account]:
        return self._run(self._endpoints.list_accounts())

    def get_account(self, email: str) -> Account:
        return self._run(self._endpoints.get_account(email))

    def delete_account(self, email: str) -> None:
        self._run(self._endpoints.delete_account(email))

    def credits(self, email: str | None = None) -> Credits:
        """Credits permitted and used (GET features); email may be left out with one account."""
        return self._run(self._endpoints.credits(email))

    def webhook_secret(self) -> str:
        """The secret that signs your callbacks (a taxiway extension); see verify_callback."""
        return self._run(self._endpoints.webhook_secret())

    def engines(self) -> Engines:
        """The engines offered per operation, whether each is ready, and the device (an extension)."""
        return self._run(self._endpoints.engines())

    # The driver: performs each effect a flow yields.

    def _run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        failure: Exception | None = None
        while True:
            try:
                effect = flow.throw(failure) if failure is not None else flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            try:
                outcome, failure = self._perform(effect), None
            except (httpx.TransportError, ApiError) as exc:
                outcome, failure = None, exc

    def _perform(self, effect: Effect) -> Any:
        match effect:
            case Request():
                return self._http.request(
                    effect.method,
                    self.connection.url(effect),
                    params=effect.params,
                    json=effect.json,
                    content=_content(effect.upload) if effect.upload else None,
                    headers=self.connection.headers() | request_headers(effect),
                )
            case Sleep():
                time.sleep(effect.seconds)
            case Notify():
                effect.handler(effect.event)
            case Download():
                return self._download(effect)
        return None

    def _download(self, effect: Download) -> int:
        partial = partial_path(effect.target)
        try:
            with self._http.stream("GET", effect.url) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                with open(partial, "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        handle.write(chunk)
            os.replace(partial, effect.target)
        finally:
            Path(partial).unlink(missing_ok=True)
        return effect.target.stat().st_size


def _content(upload: UploadBody) -> Iterator[bytes]:
    if upload.path is not None:
        return _read_file(upload.path)
    stream = upload.stream
    if hasattr(stream, "read"):
        return iter(lambda: stream.read(CHUNK_BYTES), b"")  # type: ignore[union-attr]
    if hasattr(stream, "__iter__"):
        return iter(stream)  # type: ignore[arg-type]
    raise TypeError("the blocking Client uploads a path, a binary file object or an iterable of bytes")


def _read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
