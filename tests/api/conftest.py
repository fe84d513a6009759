"""Fixtures of the API tests."""

from __future__ import annotations

from typing import Any

import pytest
from sse_streams import Stream


@pytest.fixture
def streams() -> Any:
    opened: list[Stream] = []

    def open_stream(url: str, headers: dict[str, str] | None = None, **params: str) -> Stream:
        stream = Stream(url, headers, **params)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()
