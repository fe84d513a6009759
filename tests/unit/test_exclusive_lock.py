"""The suite's machine lock: an exclusive test runs alone, and a waiting one is not starved."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from exclusive import machine_share


def test_an_exclusive_holder_waits_for_shared_ones_and_blocks_new_ones(tmp_path: Path) -> None:
    events: list[str] = []
    first_shared_in = threading.Event()
    release_first = threading.Event()

    def shared(name: str, hold: threading.Event | None = None) -> None:
        with machine_share(tmp_path, exclusive=False):
            events.append(f"{name} in")
            if hold is not None:
                first_shared_in.set()
                hold.wait(10)
            events.append(f"{name} out")

    def exclusive() -> None:
        with machine_share(tmp_path, exclusive=True):
            events.append("exclusive in")
            time.sleep(0.2)
            events.append("exclusive out")

    first = threading.Thread(target=shared, args=("first", release_first))
    first.start()
    assert first_shared_in.wait(10)
    waiting = threading.Thread(target=exclusive)
    waiting.start()
    time.sleep(0.2)  # the exclusive one now holds the gate and waits for "first"
    late = threading.Thread(target=shared, args=("late",))
    late.start()
    time.sleep(0.2)
    assert events == ["first in"], "neither the exclusive test nor a new one ran beside 'first'"
    release_first.set()
    for thread in (first, waiting, late):
        thread.join(10)
    assert events == ["first in", "first out", "exclusive in", "exclusive out", "late in", "late out"]
