"""The client follows tasks by their event stream where the server has one (taxiway), reconnects
where it stopped, and polls servers without one (the hosted API), for events() and wait() alike."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import FAST, Api, Server
from taxiway.client import AsyncClient, Client, Task, TaskFailed, TaxiwayError, Timeout
from taxiway.scheduler.claims import claim_next
from taxiway.tasks import lifecycle

QUICK_EVENTS = {"workers": 0, "event_poll_interval_seconds": 0.1, "event_heartbeat_seconds": 0.5}
TASK_ID = "user:1-runwayml:a@b.c-task:00000000-0000-0000-0000-000000000001"


def _task(status: str, ratio: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"taskId": TASK_ID, "status": status, "progressRatio": ratio, **extra}


class Seen:
    """Every request a client sends, by path (an httpx event hook)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> None:
        self.requests.append(request)

    def paths(self) -> list[str]:
        return [request.url.path.removeprefix("/v1/runwayml/") for request in self.requests]


@pytest.fixture
def idle(make_server: Callable[..., Server]) -> Server:
    return make_server(**QUICK_EVENTS)


def _queued(server: Server, clip: Path) -> tuple[Api, str]:
    api = server.new_user()
    api.create_account(max_jobs=10)
    task = api.create("gen3alpha/upscale", {"assetId": api.upload(clip, "video/mp4")["assetId"]}).json()
    return api, task["taskId"]


def _drive(server: Server, task_ref: str, finish: Callable[[str, int], object]) -> threading.Thread:
    """Run the task through RUNNING and two progress reports to ``finish``, a moment from now."""
    row_id = task_ref.rsplit(":", 1)[-1]

    def run() -> None:
        time.sleep(0.5)
        job = claim_next(server.ctx, "test")
        assert job is not None and job.task_id == row_id
        for ratio in (0.3, 0.6):
            time.sleep(0.3)
            lifecycle.record_progress(server.ctx, row_id, job.attempt, ratio, None)
        time.sleep(0.3)
        finish(row_id, job.attempt)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_events_follow_a_task_by_its_stream(idle: Server, clip: Path) -> None:
    api, task = _queued(idle, clip)
    seen = Seen()
    http = httpx.Client(event_hooks={"request": [seen]})
    with Client(api.base_url, api.token, policy=FAST, http=http) as client:
        driver = _drive(idle, task, lambda row, attempt: lifecycle.fail(idle.ctx, row, attempt, "no", "X"))
        states = list(client.events(task))
        driver.join()
    assert states[0].status == "PENDING" and states[0].queue_position == 1
    assert [state.status for state in states][-1] == "FAILED" and states[-1].queue_position is None
    # Each change once, in order (changes closer together than a poll interval may come as one).
    running = [state.progress_ratio for state in states if state.status == "RUNNING"]
    assert running == sorted(running) and running[-1] == 0.6 and len(set(running)) == len(running)
    assert all(isinstance(state, Task) for state in states)
    assert seen.paths() == [f"tasks/{task}/events"]  # one stream, no polling


def test_wait_follows_the_stream_and_raises_on_failure(idle: Server, clip: Path) -> None:
    api, task = _queued(idle, clip)
    seen, shown = Seen(), []
    http = httpx.Client(event_hooks={"request": [seen]})
    with Client(api.base_url, api.token, policy=FAST, http=http) as client:
        driver = _drive(
            idle, task, lambda row, attempt: lifecycle.fail(idle.ctx, row, attempt, "it broke", "X")
        )
        with pytest.raises(TaskFailed, match="it broke") as failed:
            client.wait(task, on_progress=shown.append)
        driver.join()
        assert failed.value.task.status == "FAILED"
        ratios = [state.progress_ratio for state in shown]
        assert shown[0].status == "PENDING" and ratios == sorted(ratios) and ratios[-2:] == [0.6, 0.6]
        assert seen.paths() == [f"tasks/{task}/events"]
        # A timeout ends a stream that is quiet: the task is read once, and Timeout says its state.
        other = client.upscale(client.upload(clip))
        started = time.monotonic()
        with pytest.raises(Timeout, match="still PENDING"):
            client.wait(other, timeout=0.5)
        assert time.monotonic() - started < 3


def test_wait_runs_a_real_task_on_its_stream(make_server: Callable[..., Server], short_clip: Path) -> None:
    server = make_server(event_poll_interval_seconds=0.1)
    api = server.new_user()
    api.create_account()
    seen, shown = Seen(), []
    with Client(
        api.base_url, api.token, policy=FAST, http=httpx.Client(event_hooks={"request": [seen]})
    ) as client:
        task = client.wait(client.upscale(client.upload(short_clip)), on_progress=shown.append)
    assert task.status == "SUCCEEDED" and task.artifacts
    assert shown[-1].status == "SUCCEEDED" and len({state.progress_ratio for state in shown}) >= 2
    assert not [path for path in seen.paths() if path == f"tasks/{task.task_id}"]  # never polled


def test_async_events_and_the_all_tasks_stream(idle: Server, clip: Path) -> None:
    api, task = _queued(idle, clip)

    async def follow() -> tuple[list[str], list[str]]:
        async with AsyncClient(api.base_url, api.token, policy=FAST) as client:
            everything: list[str] = []

            async def watch_all() -> None:
                async with contextlib.aclosing(client.events(email="me@example.com")) as events:
                    async for state in events:
                        everything.append(state.status)
                        if state.status == "FAILED":
                            return

            watcher = asyncio.create_task(watch_all())
            states = [state.status async for state in client.events(task)]
            await asyncio.wait_for(watcher, 10)
            return states, everything

    driver = _drive(idle, task, lambda row, attempt: lifecycle.fail(idle.ctx, row, attempt, "no", "X"))
    states, everything = asyncio.run(follow())
    driver.join()
    assert states[0] == "PENDING" and states[-1] == "FAILED" and "RUNNING" in states
    assert everything[0] == "PENDING" and everything[-1] == "FAILED"
    feed = idle.app.state.feed
    deadline = time.monotonic() + 5
    while feed.subscribers:
        assert time.monotonic() < deadline, "the client's streams were not closed"
        time.sleep(0.02)


# Servers without the stream (the hosted API), and streams that drop: scripted answers.


def _scripted(answers: dict[str, list[httpx.Response]], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        kind = "events" if request.url.path.endswith("/events") else "task"
        return answers[kind].pop(0)

    return httpx.MockTransport(handle)


def _sse(*events: tuple[str, dict[str, Any]]) -> httpx.Response:
    import json

    body = "retry: 10\n\n" + "".join(
        f"id: {event_id}\ndata: {json.dumps(data)}\n\n" for event_id, data in events
    )
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


@pytest.fixture
def scripted_client() -> Iterator[
    Callable[[dict[str, list[httpx.Response]]], tuple[Client, list[httpx.Request]]]
]:
    clients: list[Client] = []

    def make(answers: dict[str, list[httpx.Response]]) -> tuple[Client, list[httpx.Request]]:
        seen: list[httpx.Request] = []
        http = httpx.Client(transport=_scripted(answers, seen))
        client = Client("http://hosted.test", "token", policy=FAST, http=http)
        clients.append(client)
        return client, seen

    yield make
    for client in clients:
        client.close()


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(404, json={"error": "Not found.", "code": 404}),
        httpx.Response(405, json={"error": "Method not allowed.", "code": 405}),
        httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html>a web page</html>"),
    ],
)
def test_servers_without_the_stream_are_polled(refusal: httpx.Response, scripted_client: Any) -> None:
    polls = [_task("PENDING"), _task("RUNNING", 0.5), _task("RUNNING", 0.5), _task("SUCCEEDED", 1.0)]
    client, seen = scripted_client(
        {"events": [refusal], "task": [httpx.Response(200, json=p) for p in polls]}
    )
    shown: list[Task] = []
    assert client.wait(TASK_ID, on_progress=shown.append).status == "SUCCEEDED"
    assert len(shown) == 4  # on_progress sees every poll, as before
    assert [r.url.path.rsplit("/", 1)[-1] for r in seen] == ["events"] + [TASK_ID] * 4
    # events() polls the same way and yields each state that changed.
    client, _ = scripted_client({"events": [refusal], "task": [httpx.Response(200, json=p) for p in polls]})
    assert [(t.status, t.progress_ratio) for t in client.events(TASK_ID)] == [
        ("PENDING", 0.0),
        ("RUNNING", 0.5),
        ("SUCCEEDED", 1.0),
    ]


def test_the_all_tasks_stream_is_taxiways_only(scripted_client: Any) -> None:
    client, _ = scripted_client({"events": [httpx.Response(404, json={"error": "Not found.", "code": 404})]})
    with pytest.raises(TaxiwayError, match="no event stream of all tasks"):
        list(client.events())
    with pytest.raises(ValueError, match="email"):
        list(client.events(TASK_ID, email="a@b.c"))


def test_a_dropped_stream_resumes_after_its_last_event(scripted_client: Any) -> None:
    answers = {
        "events": [
            _sse(
                ("1.2", _task("PENDING", queuePosition=2)), ("2", _task("RUNNING"))
            ),  # then the server ends it
            httpx.Response(503, json={"error": "restarting", "code": 503}),
            _sse(("3", _task("RUNNING", 0.5)), ("4", _task("SUCCEEDED", 1.0))),
        ]
    }
    client, seen = scripted_client(answers)
    states = [(t.status, t.progress_ratio, t.queue_position) for t in client.events(TASK_ID)]
    assert states == [
        ("PENDING", 0.0, 2),
        ("RUNNING", 0.0, None),
        ("RUNNING", 0.5, None),
        ("SUCCEEDED", 1.0, None),
    ]
    assert [request.headers.get("last-event-id") for request in seen] == [None, "2", "2"]
    assert all(request.headers["accept"] == "text/event-stream" for request in seen)


def test_a_timeout_holds_while_heartbeats_keep_the_stream_alive(scripted_client: Any) -> None:
    def heartbeats() -> Iterator[bytes]:
        yield b'id: 1.1\ndata: {"taskId": "t", "status": "PENDING"}\n\n'
        while True:  # faster than any read timeout: only the deadline can end the wait
            time.sleep(0.05)
            yield b": ping\n\n"

    stream = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=heartbeats())
    client, seen = scripted_client({"events": [stream], "task": [httpx.Response(200, json=_task("PENDING"))]})
    started = time.monotonic()
    with pytest.raises(Timeout, match=r"still PENDING after 0\.5 s"):
        client.wait(TASK_ID, timeout=0.5)
    assert time.monotonic() - started < 2 and len(seen) == 2  # the stream, then one read
