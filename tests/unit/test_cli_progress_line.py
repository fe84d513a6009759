"""The CLI's progress line keeps status, bar, percent and ETA visible whatever the server's text."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console

from taxiway.cli import follow as follow_module
from taxiway.client import Task

LONG = (
    "expanding 1280×720 to 5:3 1280×768, new area filled with a blur of the video; the text prompt "
    "is not used (a classical engine cannot follow prompts)"
)


class _Client:
    """Plays a task's polls to ``on_progress`` as Client.wait would."""

    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = [Task.from_json(state) for state in states]

    def wait(self, task: Task, timeout: float | None, on_progress: Callable[[Task], None]) -> Task:
        for state in self.states:
            on_progress(state)
        return self.states[-1]


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_long_progress_text_is_cut_not_the_percent_and_eta(
    monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(follow_module, "err", Console(file=screen, width=width, force_terminal=False))
    polls = [
        {"taskId": "t", "status": "THROTTLED", "estimatedTimeToStartSeconds": 75, "progressText": LONG},
        {"taskId": "t", "status": "RUNNING", "progressRatio": 0.42, "progressText": LONG},
    ]
    client = _Client(polls)
    follow_module.follow(client, client.states[0], timeout=None)  # type: ignore[arg-type]
    [line] = [line for line in screen.getvalue().splitlines() if line.strip()]
    assert len(line) <= width, line
    assert "RUNNING" in line and "42%" in line and "expanding 1280×720" in line
    assert line.endswith("…") and "follow prompts" not in line


def test_a_waiting_task_shows_its_place_in_the_queue() -> None:
    waiting = Task.from_json(
        {"taskId": "t", "status": "PENDING", "queuePosition": 2, "estimatedTimeToStartSeconds": 75}
    )
    assert follow_module.eta_text(waiting, None) == "#2 in queue, starts in ~1:15"
    hosted = Task.from_json({"taskId": "t", "status": "THROTTLED", "estimatedTimeToStartSeconds": 75})
    assert follow_module.eta_text(hosted, None) == "starts in ~1:15"  # servers without queuePosition
    running = Task.from_json({"taskId": "t", "status": "RUNNING", "queuePosition": None})
    assert follow_module.eta_text(running, 30.0) == "ETA 0:30"
