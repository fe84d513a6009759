"""The asyncio client (httpx.AsyncClient): the same surface and behaviour as Client, awaited."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, Any

import anyio
import httpx

from taxiway.client.calls import Calls
from taxiway.client.connection import CHUNK_BYTES, Connection, partial_path, request_headers, stream_headers
from taxiway.client.effects import (
    KEEPALIVE,
    CloseStream,
    Download,
    Effect,
    Emit,
    EventStream,
    Flow,
    NextEvent,
    Notify,
    OpenStream,
    Request,
    Sleep,
    T,
    UploadBody,
)
from taxiway.client.errors import ApiError, error_from_response
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.methods import awaited, streamed_async


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
        self._calls = Calls(self.policy, on_busy)
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # Every call as calls.py declares it (parameters, defaults, docstring), awaited.
    # Operations: each returns the new task at once; wait() follows it.
    upscale = awaited(Calls.upscale)
    restyle = awaited(Calls.restyle)
    expand = awaited(Calls.expand)
    extend = awaited(Calls.extend)
    create = awaited(Calls.create)

    # Tasks
    get_task = awaited(Calls.get_task)
    list_tasks = awaited(Calls.list_tasks)
    cancel_task = awaited(Calls.cancel_task)
    delete_task = awaited(Calls.delete_task)
    wait = awaited(Calls.wait)
    events = streamed_async(Calls.events)
    download = awaited(Calls.download)

    # Assets
    upload = awaited(Calls.upload)
    get_asset = awaited(Calls.get_asset)
    list_assets = awaited(Calls.list_assets)
    delete_asset = awaited(Calls.delete_asset)

    # Accounts (and taxiway's extensions)
    set_account = awaited(Calls.set_account)
    list_accounts = awaited(Calls.list_accounts)
    get_account = awaited(Calls.get_account)
    delete_account = awaited(Calls.delete_account)
    credits = awaited(Calls.credits)
    webhook_secret = awaited(Calls.webhook_secret)
    engines = awaited(Calls.engines)

    # The driver: performs each effect a flow yields.

    async def _run(self, flow: Flow[T]) -> T:
        result: list[T] = []
        async for _ in self._iterate(flow, result):  # a call that is not streamed emits nothing
            pass
        return result[0]

    async def _iterate(self, flow: Flow[T], result: list[T] | None = None) -> AsyncIterator[Any]:
        """Perform the flow's effects, yielding what it emits; its result is put in ``result``.
        Leaving an ``async for`` early closes the streams when this is closed: use
        contextlib.aclosing to make that at once."""
        outcome: Any = None
        failure: Exception | None = None
        streams: list[EventStream] = []
        try:
            while True:
                try:
                    effect = flow.throw(failure) if failure is not None else flow.send(outcome)
                except StopIteration as stop:
                    if result is not None:
                        result.append(stop.value)
                    return
                if isinstance(effect, Emit):
                    yield effect.value
                    outcome, failure = None, None
                    continue
                try:
                    outcome, failure = await self._perform(effect, streams), None
                except (httpx.TransportError, ApiError) as exc:
                    outcome, failure = None, exc
        finally:
            flow.close()
            for stream in streams:
                await stream.response.aclose()

    async def _perform(self, effect: Effect, streams: list[EventStream]) -> Any:
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
            case OpenStream():
                return await self._open_stream(effect, streams)
            case NextEvent():
                async for line in effect.stream.lines:
                    event = effect.stream.parser.feed(line)
                    if event is not None:
                        return event
                    if line.startswith(":"):
                        return KEEPALIVE
                return None
            case CloseStream():
                await effect.stream.response.aclose()
                if effect.stream in streams:
                    streams.remove(effect.stream)
        return None

    async def _open_stream(self, effect: OpenStream, streams: list[EventStream]) -> EventStream:
        request = effect.request
        base = self._http.timeout
        response = await self._http.send(
            self._http.build_request(
                "GET",
                self.connection.url(request),
                params=request.params,
                headers=self.connection.headers() | stream_headers(effect),
                timeout=httpx.Timeout(
                    connect=base.connect, read=effect.read_timeout, write=base.write, pool=base.pool
                ),
            ),
            stream=True,
        )
        opened = EventStream(response, lines=response.aiter_lines())
        streams.append(opened)
        if response.is_error or not response.headers.get("content-type", "").startswith("text/event-stream"):
            await response.aread()  # what a refusal says, for the error raised from it
            await response.aclose()
        return opened

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
