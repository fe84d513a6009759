"""The request timing middleware: a response is counted when it starts and passes through as sent
(a stream is never held back), and a request that raises counts as the 500 the server answers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import REGISTRY

from taxiway.api.metrics import UNMATCHED, RequestMetrics


def _count(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("taxiway_http_requests_total", labels) or 0.0


def _run(app: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    asyncio.run(RequestMetrics(app, templates={})(scope, receive, send))
    return sent


def test_a_stream_is_counted_when_it_starts_and_passes_through_unbuffered() -> None:
    seen: list[float] = []

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(_count(UNMATCHED, "200"))  # counted already, before any of the body
        for chunk in (b"one", b"two"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    before = _count(UNMATCHED, "200")
    sent = _run(stream)
    assert seen == [before + 1]
    assert [message.get("body") for message in sent] == [None, b"one", b"two", b""]


def test_a_request_that_raises_counts_as_a_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug")

    before = _count(UNMATCHED, "500")
    with pytest.raises(RuntimeError):
        _run(broken)
    assert _count(UNMATCHED, "500") == before + 1
