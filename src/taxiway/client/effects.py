"""The client's logic is written once, without I/O: flows are generators that yield these effects,
and the sync and async clients perform them (httpx.Client / httpx.AsyncClient, time / asyncio)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from taxiway.client.sse import EventParser

T = TypeVar("T")

ByteSource = IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]


@dataclass(frozen=True)
class UploadBody:
    """A request body streamed from a file path (replayable) or a stream (read once)."""

    content_type: str
    path: Path | None = None
    stream: ByteSource | None = None
    size: int | None = None

    @property
    def replayable(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class Request:
    """One API call, relative to the base URL (…/v1/runwayml)."""

    method: str
    path: str
    params: dict[str, str | int] | None = None
    json: dict[str, Any] | None = None
    upload: UploadBody | None = None

    @property
    def safe_to_repeat(self) -> bool:
        """GETs can be re-sent after any failure; others only if they never left (no double task)."""
        return self.method == "GET"


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Notify:
    """Call `handler(event)`; an async client awaits it when it returns an awaitable."""

    handler: Callable[[Any], Any]
    event: Any


@dataclass(frozen=True)
class Download:
    """Stream `url` (a signed link: sent without the API token) into `target`; answers its size."""

    url: str
    target: Path


@dataclass(frozen=True)
class OpenStream:
    """Open a Server-Sent Events stream (a GET) and answer it as an EventStream once its headers
    are in; an answer that is not a stream is read whole and closed. ``read_timeout``: how long
    one read may wait for a byte (heartbeats come every few seconds while a stream lives)."""

    request: Request
    last_event_id: str | None
    read_timeout: float


@dataclass
class EventStream:
    """An open stream: its response (headers read), and the driver's reading of its lines."""

    response: Any  # httpx.Response
    parser: EventParser = field(default_factory=EventParser)
    lines: Any = None  # the driver's iterator (sync or async) over the response's lines


@dataclass(frozen=True)
class NextEvent:
    """The stream's next event (a ServerEvent); KEEPALIVE for a comment line (the server's
    heartbeat: nothing happened, the stream lives); None once the server has ended it."""

    stream: EventStream


KEEPALIVE = object()


@dataclass(frozen=True)
class CloseStream:
    stream: EventStream


@dataclass(frozen=True)
class Emit:
    """Hand a value to the caller of a streaming call (Client.events yields it); answers None."""

    value: Any


Effect = Request | Sleep | Notify | Download | OpenStream | NextEvent | CloseStream | Emit
# A flow yields effects, is sent each effect's result (an httpx.Response for a Request, the byte count
# for a Download, an EventStream for OpenStream, a ServerEvent or None for NextEvent, None otherwise)
# or has the transport error thrown into it, and returns its value. Drivers close the streams a
# flow opened when it ends, however it ends.
Flow = Generator[Effect, Any, T]
