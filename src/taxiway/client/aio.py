"""The asyncio client (httpx.AsyncClient): the same surface and behaviour as Client, awaited."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any, Unpack

import anyio
import httpx

from taxiway.client.calls import AspectRatio, AssetRef, ExpandAspect, TaskOptions, TaskRef
from taxiway.client.connection import CHUNK_BYTES, Connection, partial_path, request_headers
from taxiway.client.effects import ByteSource, Download, Effect, Flow, Notify, Request, Sleep, T, UploadBody
from taxiway.client.endpoints import Endpoints
from taxiway.client.errors import ApiError, error_from_response
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.models import Account, Asset, Credits, Engines, Task


class AsyncClient:
    """An asyncio client for any server speaking the Runway (useapi.net) contract.

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
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.connection = Connection.resolve(base_url, token)
        self.policy = policy or Policy()
        self._endpoints = Endpoints(self.policy, on_busy)
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # Operations: each returns the new task at once; wait() follows it.

    async def upscale(self, asset: AssetRef, **options: Unpack[TaskOptions]) -> Task:
        """Upscale a video of at most 40 s to 4K class (videos/upscale)."""
        return await self._run(self._endpoints.upscale(asset, options))

    async def restyle(
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
        return await self._run(
            self._endpoints.restyle(asset, prompt, strength, aspect_ratio, seconds, seed, options)
        )

    async def expand(
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
        return await self._run(
            self._endpoints.expand(asset, aspect_ratio, image, prompt, seconds, seed, options)
        )

    async def extend(
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
        return await self._run(self._endpoints.extend(asset, seconds, prompt, seed, turbo, options))

    async def create(self, path: str, body: dict[str, object]) -> Task:
        """Any operation by its path (e.g. "gen3alpha/upscale"), with a body in the contract's names."""
        return await self._run(self._endpoints.create(path, body))

    # Tasks

    async def get_task(self, task: TaskRef) -> Task:
        return await self._run(self._endpoints.get_task(task))

    async def list_tasks(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        statuses: list[str] | None = None,
        email: str | None = None,
    ) -> list[Task]:
        """Your tasks, newest first."""
        return await self._run(self._endpoints.list_tasks(offset, limit, statuses, email))

    async def cancel_task(self, task: TaskRef) -> Task:
        """Cancel a live task; answers its state after (a finished task is left as it is)."""
        return await self._run(self._endpoints.cancel_task(task))

    async def delete_task(self, task: TaskRef) -> Task | None:
        """Delete a finished task and its artifacts (None); a live one is cancelled instead (the task)."""
        return await self._run(self._endpoints.delete_task(task))

    async def wait(
        self,
        task: TaskRef,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Task], Any] | None = None,
    ) -> Task:
        """Poll until SUCCEEDED (the task); raises TaskFailed, TaskCancelled or Timeout."""
        return await self._run(self._endpoints.wait(task, timeout, on_progress))

    async def download(self, task: TaskRef, target: str | os.PathLike[str], *, index: int = 0) -> Path:
        """Stream a finished task's artifact to `target` (a file, or a folder to keep its filename)."""
        return await self._run(self._endpoints.download(task, target, index))

    # Assets

    async def upload(
        self,
        source: str | os.PathLike[str] | IO[bytes] | ByteSource,
        *,
        name: str | None = None,
        email: str | None = None,
        content_type: str | None = None,
    ) -> Asset:
        """Upload a file path or binary stream, streamed in chunks (never read whole into memory)."""
        return await self._run(self._endpoints.upload(source, name, email, content_type))

    async def get_asset(self, asset: AssetRef) -> Asset:
        return await self._run(self._endpoints.get_asset(asset))

    async def list_assets(
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
        return await self._run(self._endpoints.list_assets(offset, limit, media_type, email, group, sha256))

    async def delete_asset(self, asset: AssetRef) -> None:
        await self._run(self._endpoints.delete_asset(asset))

    # Accounts

    async def set_account(self, email: str, *, max_jobs: int, reply_url: str | None = None) -> Account:
        """Create an account or change its maxJobs (1…10) and replyUrl."""
        return await self._run(self._endpoints.set_account(email, max_jobs, reply_url))

    async def list_accounts(self) -> list[Account]:
        return await self._run(self._endpoints.list_accounts())

    async def get_account(self, email: str) -> Account:
        return await self._run(self._endpoints.get_account(email))

    async def delete_account(self, email: str) -> None:
        await self._run(self._endpoints.delete_account(email))

    async def credits(self, email: str | None = None) -> Credits:
        """Credits permitted and used (GET features); email may be left out with one account."""
        return await self._run(self._endpoints.credits(email))

    async def webhook_secret(self) -> str:
        """The secret that signs your callbacks (a taxiway extension); see verify_callback."""
        return await self._run(self._endpoints.webhook_secret())

    async def engines(self) -> Engines:
        """The engines offered per operation, whether each is ready, and the device (an extension)."""
        return await self._run(self._endpoints.engines())

    # The driver: performs each effect a flow yields.

    async def _run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        failure: Exception | None = None
        while True:
            try:
                effect = flow.throw(failure) if failure is not None else flow.send(outcome)
            except StopIteration as stop:
                return stop.value
            try:
                outcome, failure = await self._perform(effect), None
            except (httpx.TransportError, ApiError) as exc:
                outcome, failure = None, exc

    async def _perform(self, effect: Effect) -> Any:
        match effect:
            case Request():
                return await self._http.request(
                    effect.method,
                    self.connection.url(effect),
                    params=effect.params,
                    json=effect.json,
                    content=_content(effect.upload) if effect.upload else None,
                    headers=self.connection.headers() | request_headers(effect),
                )
            case Sleep():
                await asyncio.sleep(effect.seconds)
            case Notify():
                result = effect.handler(effect.event)
                if inspect.isawaitable(result):
                    await result
            case Download():
                return await self._download(effect)
        return None

    async def _download(self, effect: Download) -> int:
        partial = partial_path(effect.target)
        try:
            async with self._http.stream("GET", effect.url) as response:
                if response.is_error:
                    await response.aread()
                    raise error_from_response(response)
                async with await anyio.open_file(partial, "wb") as handle:
                    async for chunk in response.aiter_bytes(CHUNK_BYTES):
                        await handle.write(chunk)
            os.replace(partial, effect.target)
        finally:
            Path(partial).unlink(missing_ok=True)
        return effect.target.stat().st_size


def _content(upload: UploadBody) -> AsyncIterator[bytes]:
    if upload.path is not None:
        return _read_file(upload.path)
    stream = upload.stream
    if hasattr(stream, "__aiter__"):
        return aiter(stream)  # type: ignore[arg-type]
    if hasattr(stream, "read"):
        return _read_stream(stream)  # type: ignore[arg-type]
    if hasattr(stream, "__iter__"):
        return _from_iterable(stream)  # type: ignore[arg-type]
    raise TypeError("AsyncClient uploads a path, a binary file object or an (async) iterable of bytes")


async def _read_file(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(CHUNK_BYTES):
            yield chunk


async def _read_stream(stream: IO[bytes]) -> AsyncIterator[bytes]:
    # A blocking file object is read in a worker thread so the event loop never stalls on disk.
    while chunk := await anyio.to_thread.run_sync(stream.read, CHUNK_BYTES):
        yield chunk


async def _from_iterable(chunks: Any) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
