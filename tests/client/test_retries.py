"""The client's retry, 429 and polling policy, against scripted HTTP answers (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from support import free_port
from taxiway.client import (
    AsyncClient,
    Busy,
    BusyWait,
    Client,
    ConnectionFailed,
    InsufficientCredits,
    Policy,
    ServerError,
    Task,
)
from taxiway.client.flows import PollSchedule

QUICK = Policy(backoff_seconds=0.001, busy_interval_seconds=0.01, max_busy_interval_seconds=0.02)
TASK = {"taskId": "user:1-runwayml:a@b.c-task:00000000-0000-0000-0000-000000000001", "status": "RUNNING"}

Answer = httpx.Response | Exception


def scripted(answers: list[Answer], seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle


def client_for(answers: list[Answer], seen: list[httpx.Request], **kwargs: object) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(scripted(answers, seen)))
    return Client("http://server.test", "token", policy=QUICK, http=http, **kwargs)  # type: ignore[arg-type]


def test_reads_are_retried_after_5xx_and_connection_errors() -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [
        httpx.Response(503, json={"error": "restarting", "code": 503}),
        httpx.ReadError("connection reset"),
        httpx.Response(200, json=TASK),
    ]
    task = client_for(answers, seen).get_task("t")
    assert task.status == "RUNNING" and len(seen) == 3
    assert seen[0].url == "http://server.test/v1/runwayml/tasks/t"
    assert seen[0].headers["authorization"] == "Bearer token"


def test_a_create_is_never_sent_twice_unless_it_never_left() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ServerError, match="Internal"):
        client_for([httpx.Response(500, json={"error": "Internal", "code": 500})], seen).upscale("a")
    assert len(seen) == 1  # a 500 may have created the task: resending could charge twice
    seen.clear()
    with pytest.raises(ConnectionFailed):
        client_for([httpx.ReadTimeout("slow")], seen).upscale("a")
    assert len(seen) == 1
    seen.clear()
    answers: list[Answer] = [httpx.ConnectError("refused"), httpx.Response(200, json=TASK)]
    assert client_for(answers, seen).upscale("a").task_id == TASK["taskId"]
    assert len(seen) == 2 and seen[1].read() == b'{"videoAssetId":"a"}'


def test_busy_waits_honour_retry_after_then_give_up() -> None:
    seen: list[httpx.Request] = []
    waits: list[BusyWait] = []
    busy = {
        "error": "Account a@b.c is busy executing 1 tasks",
        "runningTasks": {"a@b.c": [TASK]},
        "code": 429,
    }
    answers: list[Answer] = [
        httpx.Response(429, json=busy, headers={"Retry-After": "0.05"}),
        httpx.Response(429, json=busy),
        httpx.Response(200, json=TASK),
    ]
    client_for(answers, seen, on_busy=waits.append).extend("a", seconds=5)
    assert [w.delay_seconds >= 0.05 for w in waits] == [True, False]
    assert waits[0].error.running_tasks["a@b.c"][0]["taskId"] == TASK["taskId"]
    impatient = Policy(busy_timeout_seconds=0)
    http = httpx.Client(transport=httpx.MockTransport(scripted([httpx.Response(429, json=busy)], seen)))
    with pytest.raises(Busy, match="busy executing"):
        Client("http://server.test", "token", policy=impatient, http=http).extend("a")


def test_errors_without_the_contract_shape_still_get_a_type_and_message() -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [
        httpx.Response(412, json={"error": "You do not have enough credits to run this task."})
    ]
    with pytest.raises(InsufficientCredits, match="enough credits"):
        client_for(answers, seen).upscale("a")
    answers = [httpx.Response(502, text="<html>Bad Gateway</html>")] * 4
    with pytest.raises(ServerError, match="Bad Gateway") as error:
        client_for(answers, seen).list_tasks()
    assert error.value.status == 502


def test_an_unreachable_server_is_one_clear_error() -> None:
    port = free_port()  # nothing listens there
    with (
        pytest.raises(ConnectionFailed, match="GET tasks/"),
        Client(f"http://127.0.0.1:{port}", "t", policy=QUICK) as c,
    ):
        c.list_tasks()


def test_async_client_retries_the_same_way() -> None:
    seen: list[httpx.Request] = []
    answers: list[Answer] = [httpx.Response(504), httpx.Response(200, json=[TASK, TASK])]

    async def list_them() -> list[Task]:
        http = httpx.AsyncClient(transport=httpx.MockTransport(scripted(answers, seen)))
        async with AsyncClient("http://server.test/v1/runwayml/", "token", policy=QUICK, http=http) as client:
            return await client.list_tasks(statuses=["RUNNING", "PENDING"])

    assert len(asyncio.run(list_them())) == 2
    assert seen[-1].url.params["statuses"] == "RUNNING,PENDING"


def test_models_accept_what_other_servers_send() -> None:
    task = Task.from_json({"taskId": "x", "status": "SUCCEEDED", "progressRatio": "1", "artifacts": [
        {"assetId": "y", "fileSize": "14173798", "metadata": {"dimensions": [4096, 2304], "duration": 8}}
    ], "error": {"reason": "r"}})  # fmt: skip
    assert task.progress_ratio == 1.0 and task.error_message == "r"
    artifact = task.artifacts[0]
    assert (artifact.file_size, artifact.media.width, artifact.media.height) == (14173798, 4096, 2304)
    assert Task.from_json({}).status == "UNKNOWN"


def test_polling_backs_off_while_nothing_changes_and_waits_out_the_queue() -> None:
    schedule = PollSchedule(Policy(poll_interval_seconds=1, max_poll_interval_seconds=10))
    queued = Task.from_json({"taskId": "x", "status": "PENDING", "estimatedTimeToStartSeconds": 30})
    assert schedule.next_delay(queued, now=0) == 10  # the queue estimate, capped
    delays = [
        schedule.next_delay(Task.from_json({"status": "RUNNING", "progressRatio": 0.5}), now=t)
        for t in range(5)
    ]
    assert delays[1] < delays[2] < delays[3]  # unchanged progress: look less and less often
    running = PollSchedule(Policy(poll_interval_seconds=1, max_poll_interval_seconds=10))
    running.interval = 10
    running.next_delay(Task.from_json({"status": "RUNNING", "progressRatio": 0.1}), now=0)
    # 0.8 done in 8 s: about 1 s left, so the next look comes then, not 10 s later.
    soon = running.next_delay(Task.from_json({"status": "RUNNING", "progressRatio": 0.9}), now=8)
    assert soon == pytest.approx(1.0)
