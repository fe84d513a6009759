"""The blocking client (httpx.Client)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

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
from taxiway.client.methods import blocking, streamed


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
        self._calls = Calls(self.policy, on_busy)
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=True)
        self._owns_http = http is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Every call as calls.py declares it (parameters, defaults, docstring), run to its result.
    # Operations: each returns the new task at once; wait() follows it.
    upscale = blocking(Calls.upscale)
    restyle = blocking(Calls.restyle)
    expand = blocking(Calls.expand)
    extend = blocking(Calls.extend)
    create = blocking(Calls.create)

    # Tasks
    get_task = blocking(Calls.get_task)
    list_tasks = blocking(Calls.list_tasks)
    cancel_task = blocking(Calls.cancel_task)
    delete_task = blocking(Calls.delete_task)
    wait = blocking(Calls.wait)
    events = streamed(Calls.events)
    download = blocking(Calls.download)

    # Assets
    upload = blocking(Calls.upload)
    get_asset = blocking(Calls.get_asset)
    list_assets = blocking(Calls.list_assets)
    delete_asset = blocking(Calls.delete_asset)

    # Accounts (and taxiway's extensions)
    set_account = blocking(Calls.set_account)
    list_accounts = blocking(Calls.list_accounts)
    get_account = blocking(Calls.get_account)
    delete_account = blocking(Calls.delete_account)
    credits = blocking(Calls.credits)
    webhook_secret = blocking(Calls.webhook_secret)
    engines = blocking(Calls.engines)

    # The driver: performs each effect a flow yields.

    def _run(self, flow: Flow[T]) -> T:
        steps = self._iterate(flow)
        while True:
            try:
                next(steps)  # a call that is not streamed emits nothing
            except StopIteration as stop:
                return stop.value

    def _iterate(self, flow: Flow[T]) -> Generator[Any, None, T]:
        """Perform the flow's effects, yielding what it emits; its result is the generator's."""
        outcome: Any = None
        failure: Exception | None = None
        streams: list[EventStream] = []
        try:
            while True:
                try:
                    effect = flow.throw(failure) if failure is not None else flow.send(outcome)
                except StopIteration as stop:
                    return stop.value
                if isinstance(effect, Emit):
                    yield effect.value
                    outcome, failure = None, None
                    continue
                try:
                    outcome, failure = self._perform(effect, streams), None
                except (httpx.TransportError, ApiError) as exc:
                    outcome, failure = None, exc
        finally:
            flow.close()
            for stream in streams:
                stream.response.close()

    def _perform(self, effect: Effect, streams: list[EventStream]) -> Any:
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
            case OpenStream():
                return self._open_stream(effect, streams)
            case NextEvent():
                for line in effect.stream.lines:
                    event = effect.stream.parser.feed(line)
                    if event is not None:
                        return event
                    if line.startswith(":"):
                        return KEEPALIVE
                return None
            case CloseStream():
                effect.stream.response.close()
                if effect.stream in streams:
                    streams.remove(effect.stream)
        return None

    def _open_stream(self, effect: OpenStream, streams: list[EventStream]) -> EventStream:
        request = effect.request
        base = self._http.timeout
        response = self._http.send(
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
        opened = EventStream(response, lines=response.iter_lines())
        streams.append(opened)
        if response.is_error or not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()  # what a refusal says, for the error raised from it
            response.close()
        return opened

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
