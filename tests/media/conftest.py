"""Shared fixtures for the media tests: generated clips are cached for the whole session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mediafiles import make_image, make_video


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip(media_dir: Path) -> Callable[..., Path]:
    """``clip("a.mp4", seconds=1)``: make_video into the session directory, once per name+args."""
    cache: dict[tuple[str, str], Path] = {}

    def get(name: str, **kwargs: Any) -> Path:
        key = (name, repr(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = make_video(media_dir / f"{len(cache)}-{name}", **kwargs)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def image(media_dir: Path) -> Callable[..., Path]:
    """``image("a.png", width=64)``: make_image into the session directory, once per name+args."""
    cache: dict[tuple[str, str], Path] = {}

    def get(name: str, **kwargs: Any) -> Path:
        key = (name, repr(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = make_image(media_dir / f"img{len(cache)}-{name}", **kwargs)
        return cache[key]

    return get
