"""The client's logic is written once, without I/O: flows are generators that yield these effects,
and the sync and async clients perform them (httpx.Client / httpx.AsyncClient, time / asyncio)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

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


Effect = Request | Sleep | Notify | Download
# A flow yields effects, is sent each effect's result (an httpx.Response for a Request, the byte count
# for a Download, None otherwise) or has the transport error thrown into it, and returns its value.
Flow = Generator[Effect, Any, T]
