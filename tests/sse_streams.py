"""An event stream (SSE) read on a thread, as a browser's EventSource would: for the tests of the
streams and of what they carry."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from taxiway.client.sse import EventParser


class Stream:
    """An event stream read on a thread, as an EventSource would: events and pings as they come."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, **params: str) -> None:
        self.events: list[tuple[str | None, dict[str, Any]]] = []  # (id, task JSON)
        self.pings = 0
        self.status: int | None = None
        self.body = b""
        self.content_type = ""
        self.ended = threading.Event()  # the server closed the stream
        self._opened = threading.Event()
        self._http = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, args=(url, headers or {}, params), daemon=True)
        self._thread.start()
        assert self._opened.wait(30), "the stream did not answer"

    def _read(self, url: str, headers: dict[str, str], params: dict[str, str]) -> None:
        try:
            # (params=None: an empty dict would drop the query string a signed link carries)
            with self._http.stream("GET", url, headers=headers, params=params or None) as response:
                self._response = response
                self.status, self.content_type = (
                    response.status_code,
                    response.headers.get("content-type", ""),
                )
                if response.status_code != 200:
                    self.body = response.read()
                    self._opened.set()
                    return
                self._opened.set()
                parser = EventParser()
                for line in response.iter_lines():
                    if line.startswith(": ping"):
                        self.pings += 1
                    event = parser.feed(line)
                    if event is not None:
                        self.events.append((event.id, json.loads(event.data)))
                self.ended.set()
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self._opened.set()

    def wait_for(self, what: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not what([data for _, data in self.events]):
            assert time.monotonic() < deadline, f"stream events: {self.summary()}"
            time.sleep(0.02)

    def wait_for_pings(self, count: int, timeout: float = 20) -> None:
        """Until ``count`` heartbeats came (waited for, not timed: a loaded machine runs late)."""
        deadline = time.monotonic() + timeout
        while self.pings < count:
            assert time.monotonic() < deadline, f"{self.pings} heartbeats; stream events: {self.summary()}"
            time.sleep(0.02)

    def summary(self) -> list[tuple[str | None, str, Any, Any]]:
        return [(i, d["status"], d["progressRatio"], d["queuePosition"]) for i, d in self.events]

    def close(self) -> None:
        self._http.close()
        self._thread.join(10)


Open = Callable[..., Stream]
