"""Event streams (SSE) of tasks: order, coalescing, resume, heartbeats, auth, signed links, the
all-tasks stream, several API servers on one database, disconnects. The tasks are driven through
the lifecycle functions on servers that run no work, so every change is the test's own."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sse_streams import Open

from support import API, Api, Server
from taxiway.scheduler.claims import claim_next
from taxiway.store.changes import ChangeKey
from taxiway.tasks import lifecycle
from taxiway.worker.contract import ClaimedTask

FAST_EVENTS = {"workers": 0, "event_poll_interval_seconds": 0.1, "event_heartbeat_seconds": 0.4}


def _user(server: Server, *emails: str) -> tuple[Api, dict[str, str]]:
    api = server.new_user()
    for email in emails or ("me@example.com",):
        api.create_account(email, max_jobs=10)
    return api, {"Authorization": f"Bearer {api.token}"}


def _upscale(api: Api, asset: str) -> dict[str, Any]:
    response = api.create("gen3alpha/upscale", {"assetId": asset})
    assert response.status_code == 200, response.text
    return response.json()


def _claim(server: Server, task_id: str) -> ClaimedTask:
    job = claim_next(server.ctx, "test")
    assert job is not None and job.task_id == task_id
    return job


def _unsigned(value: Any) -> Any:
    """The task JSON without its links' expiry and signature (signed afresh on every read)."""
    text = re.sub(r"(expires|signature)=[^&\"]*", r"\1=", json.dumps(value))
    return json.loads(text)


def test_one_task_streams_each_change_in_order_then_closes(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    stream = streams(f"{server.base_url}{API}/tasks/{task['taskId']}/events", auth)
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    stream.wait_for(lambda events: len(events) == 1)
    assert stream.events[0][1]["status"] == "PENDING" and stream.events[0][0] == "1.1"
    job = _claim(server, task["id"])
    stream.wait_for(lambda events: events[-1]["status"] == "RUNNING")
    for ratio in (0.25, 0.5):
        lifecycle.record_progress(server.ctx, task["id"], job.attempt, ratio, f"{ratio:.0%}")
        stream.wait_for(lambda events, ratio=ratio: events[-1]["progressRatio"] == ratio)
    lifecycle.fail(server.ctx, task["id"], job.attempt, "it broke", "ENGINE_ERROR")
    assert stream.ended.wait(10), "the stream ends after the final state"
    assert [data["status"] for _, data in stream.events] == [
        "PENDING",
        "RUNNING",
        "RUNNING",
        "RUNNING",
        "FAILED",
    ]
    versions = [int(str(event_id).split(".")[0]) for event_id, _ in stream.events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions), stream.summary()
    assert _unsigned(stream.events[-1][1]) == _unsigned(api.task(task["taskId"]))
    # The final state was seen: reconnecting with its id is a 204, which stops an EventSource.
    again = streams(
        f"{server.base_url}{API}/tasks/{task['id']}/events", auth | {"Last-Event-ID": stream.events[-1][0]}
    )
    assert again.status == 204
    # Without an id a finished task's stream sends its final state and ends.
    fresh = streams(f"{server.base_url}{API}/tasks/{task['id']}/events", auth)
    assert fresh.ended.wait(10) and [data["status"] for _, data in fresh.events] == ["FAILED"]


def test_progress_is_coalesced_and_the_latest_state_always_sent(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS | {"event_poll_interval_seconds": 0.5})
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    job = _claim(server, task["id"])
    stream = streams(f"{server.base_url}{API}/tasks/{task['id']}/events", auth)
    stream.wait_for(lambda events: len(events) == 1)
    started = time.monotonic()
    for step in range(1, 41):  # 40 reports in about a second
        lifecycle.record_progress(server.ctx, task["id"], job.attempt, step / 40, f"step {step}")
        time.sleep(0.025)
    stream.wait_for(lambda events: events[-1]["progressRatio"] == 1.0)
    elapsed = time.monotonic() - started
    progress = stream.events[1:]
    # At most one event per poll interval (0.5 s), and never an older state after a newer one.
    assert len(progress) <= elapsed / 0.5 + 2, stream.summary()
    ratios = [data["progressRatio"] for _, data in progress]
    assert ratios == sorted(ratios) and ratios[-1] == 1.0 and progress[-1][1]["progressText"] == "step 40"


def test_last_event_id_resumes_without_repeats(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    url = f"{server.base_url}{API}/tasks/{task['id']}/events"
    job = _claim(server, task["id"])
    first = streams(url, auth)
    first.wait_for(lambda events: events and events[-1]["status"] == "RUNNING")
    seen = first.events[-1][0]
    first.close()
    # Nothing changed: resuming sends nothing (pings only).
    quiet = streams(url, auth | {"Last-Event-ID": str(seen)})
    quiet.wait_for_pings(2)
    assert quiet.events == []
    lifecycle.record_progress(server.ctx, task["id"], job.attempt, 0.5, "half")
    quiet.wait_for(lambda events: len(events) == 1)
    assert quiet.events[0][1]["progressRatio"] == 0.5
    # A changed task: the resumed stream starts with the state after the one named, once.
    resumed = streams(url, auth, lastEventId=str(seen))  # the query form, for a new EventSource
    resumed.wait_for(lambda events: len(events) == 1)
    time.sleep(0.5)
    assert [data["progressRatio"] for _, data in resumed.events] == [0.5]
    bad = streams(url, auth | {"Last-Event-ID": "yesterday"})
    assert bad.status == 400 and b"7.2" in bad.body


def test_heartbeats_while_nothing_changes(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS | {"event_heartbeat_seconds": 0.2})
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    stream = streams(f"{server.base_url}{API}/tasks/{task['id']}/events", auth)
    stream.wait_for_pings(3)
    assert len(stream.events) == 1


def test_auth_like_every_route_and_signed_links_for_event_sources(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS | {"event_link_ttl_seconds": 4})
    api, auth = _user(server, "me@example.com", "other@example.com")
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    second = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    task_url = f"{server.base_url}{API}/tasks/{task['taskId']}/events"
    for headers in ({}, {"Authorization": "Bearer twy_nope"}):
        refused = streams(task_url, headers)
        assert (refused.status, json.loads(refused.body)) == (401, {"error": "Unauthorized", "code": 401})
    stranger = server.new_user()
    hidden = streams(task_url, {"Authorization": f"Bearer {stranger.token}"})
    assert hidden.status == 404 and json.loads(hidden.body) == {
        "error": f"Unable to retrieve taskId {task['taskId']} (Not found.)",
        "code": 404,
    }
    assert streams(f"{server.base_url}{API}/events", auth, email="nobody@example.com").status == 404

    # A signed link works with no headers at all, as an EventSource opens it.
    link = api.http.post("/events/links", json={"taskId": task["taskId"]}).json()
    assert set(link) == {"url", "expiresAt"} and api.token not in link["url"]
    opened = streams(link["url"], {"Accept": "text/event-stream"})
    assert opened.status == 200, opened.body
    opened.wait_for(lambda events: len(events) == 1)
    assert opened.events[0][1]["taskId"] == task["taskId"]
    # Tampered, moved to another task, or expired: 403 in the contract's shape.
    tampered = streams(link["url"].replace("signature=", "signature=x"))
    assert tampered.status == 403 and json.loads(tampered.body)["code"] == 403
    assert "invalid or has expired" in json.loads(tampered.body)["error"]
    moved = link["url"].replace(task["taskId"], second["taskId"])
    assert streams(moved).status == 403
    everything = api.http.post("/events/links", json={"email": "other@example.com"}).json()["url"]
    assert "/v1/runwayml/events?" in everything and "email=other%40example.com" in everything
    assert streams(everything.replace("other%40example.com", "me%40example.com")).status == 403
    assert streams(everything).status == 200
    expires = int(httpx.URL(link["url"]).params["expires"])
    time.sleep(max(0.0, expires + 1 - time.time()))
    assert streams(link["url"]).status == 403  # expired (a stream open before goes on)
    assert len(opened.events) == 1 and not opened.ended.is_set()
    # Making a link takes the token, and a task or account of the caller's.
    assert httpx.post(f"{server.base_url}{API}/events/links", json={}).status_code == 401
    assert api.http.post("/events/links", json={"taskId": "nope"}).status_code == 400
    assert (
        api.http.post("/events/links", json={"taskId": task["id"], "email": "me@example.com"}).status_code
        == 200
    )
    elsewhere = api.http.post("/events/links", json={"taskId": task["id"], "email": "other@example.com"})
    assert elsewhere.status_code == 404 and "other@example.com" in elsewhere.json()["error"]
    foreign = httpx.post(
        f"{server.base_url}{API}/events/links",
        json={"taskId": task["taskId"]},
        headers={"Authorization": f"Bearer {stranger.token}"},
    )
    assert foreign.status_code == 404


def test_the_all_tasks_stream_follows_every_task_or_one_accounts(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server, "a@example.com", "b@example.com")
    asset_a = api.upload(clip, "video/mp4", email="a@example.com")["assetId"]
    asset_b = api.upload(clip, "video/mp4", email="b@example.com")["assetId"]
    early = _upscale(api, asset_a)  # live before the streams open: their first event
    url = f"{server.base_url}{API}/events"
    everything = streams(url, auth)
    only_b = streams(url, auth, email="b@example.com")
    everything.wait_for(lambda events: len(events) == 1)
    assert everything.events[0][1]["id"] == early["id"]
    a, b = _upscale(api, asset_a), _upscale(api, asset_b)
    everything.wait_for(lambda events: {e["id"] for e in events} >= {a["id"], b["id"]})
    only_b.wait_for(lambda events: len(events) == 1)
    assert only_b.events[0][1]["id"] == b["id"] and only_b.events[0][1]["queuePosition"] == 2
    job = _claim(server, early["id"])
    # The queue moved: b went from position 2 to 1, an event without an id of its own (b's row
    # did not change).
    only_b.wait_for(lambda events: events[-1]["queuePosition"] == 1)
    assert only_b.events[-1][0] is None
    # Account a runs nothing again: its next task goes first (accounts take turns), b is 2nd again.
    lifecycle.fail(server.ctx, early["id"], job.attempt, "no", "ENGINE_ERROR")
    everything.wait_for(lambda events: events[-1]["id"] == early["id"] and events[-1]["status"] == "FAILED")
    only_b.wait_for(lambda events: events[-1]["queuePosition"] == 2)
    assert [data["queuePosition"] for _, data in only_b.events] == [2, 1, 2]
    keys = [ChangeKey.parse(event_id) for event_id, _ in everything.events if event_id is not None]
    assert None not in keys and keys == sorted(keys) and len(set(keys)) == len(keys)
    stranger = server.new_user()
    theirs = streams(url, {"Authorization": f"Bearer {stranger.token}"})
    # Resume: only what changed after the id, once; another user's stream sees none of it.
    resume_at = everything.events[-1][0]
    assert resume_at is not None
    everything.close()
    job = _claim(server, a["id"])
    lifecycle.record_progress(server.ctx, a["id"], job.attempt, 0.5, None)
    resumed = streams(url, auth | {"Last-Event-ID": resume_at})
    resumed.wait_for(lambda events: any(e["id"] == a["id"] and e["progressRatio"] == 0.5 for e in events))
    time.sleep(0.5)
    by_task = [data["id"] for event_id, data in resumed.events if event_id is not None]
    assert by_task == [a["id"]], resumed.summary()
    assert theirs.events == []


def test_a_client_that_goes_away_leaves_no_subscriber(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    feed = server.app.state.feed
    stream = streams(f"{server.base_url}{API}/tasks/{task['id']}/events", auth)
    everything = streams(f"{server.base_url}{API}/events", auth)
    stream.wait_for(lambda events: len(events) == 1)
    assert feed.subscribers == 2
    stream.close()
    everything.close()
    deadline = time.monotonic() + 5
    while feed.subscribers:
        assert time.monotonic() < deadline, "the subscriptions outlived their clients"
        time.sleep(0.02)
    assert feed._poller is None  # nobody listens: no more queries


def test_a_stopping_server_ends_its_streams(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server)
    task = _upscale(api, api.upload(clip, "video/mp4")["assetId"])
    stream = streams(f"{server.base_url}{API}/tasks/{task['id']}/events", auth)
    stream.wait_for(lambda events: len(events) == 1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5 and stream.ended.wait(5)


def test_waiting_tasks_stream_their_queue_position(
    make_server: Callable[..., Server], clip: Path, streams: Open
) -> None:
    server = make_server(**FAST_EVENTS)
    api, auth = _user(server)
    asset = api.upload(clip, "video/mp4")["assetId"]
    tasks = [_upscale(api, asset) for _ in range(3)]
    last = streams(f"{server.base_url}{API}/tasks/{tasks[2]['id']}/events", auth)
    last.wait_for(lambda events: len(events) == 1)
    assert last.events[0][1]["queuePosition"] == 3
    _claim(server, tasks[0]["id"])
    last.wait_for(lambda events: events[-1]["queuePosition"] == 2)
    _claim(server, tasks[1]["id"])
    last.wait_for(lambda events: events[-1]["queuePosition"] == 1)
    job = _claim(server, tasks[2]["id"])
    last.wait_for(lambda events: events[-1]["status"] == "RUNNING")
    assert [data["queuePosition"] for _, data in last.events] == [3, 2, 1, None]
    assert [event_id for event_id, _ in last.events] == ["1.3", "1.2", "1.1", "2"]
    lifecycle.fail(server.ctx, tasks[2]["id"], job.attempt, "no", "ENGINE_ERROR")
    assert last.ended.wait(10)


def test_an_event_from_one_server_reaches_a_stream_on_another(
    make_server: Callable[..., Server], postgres_url: str, clip: Path, streams: Open, tmp_path: Path
) -> None:
    shared = {"database_url": postgres_url, "secret_key": "shared-secret", "blob_dir": tmp_path / "blobs"}
    server_a = make_server(**FAST_EVENTS | shared)
    server_b = make_server(**FAST_EVENTS | shared)
    api, auth = _user(server_a)
    asset = api.upload(clip, "video/mp4")["assetId"]
    everything = streams(f"{server_b.base_url}{API}/events", auth)
    task = _upscale(api, asset)  # through server A
    everything.wait_for(lambda events: any(e["id"] == task["id"] for e in events))
    one = streams(f"{server_b.base_url}{API}/tasks/{task['id']}/events", auth)
    one.wait_for(lambda events: len(events) == 1)
    assert api.http.delete(f"/tasks/{task['id']}").json()["status"] == "CANCELLED"  # through A
    assert one.ended.wait(10) and one.events[-1][1]["status"] == "CANCELLED"
    everything.wait_for(lambda events: events[-1]["status"] == "CANCELLED")
    # The links in B's events are signed for B, and work there (one secret key, one blob store).
    url = one.events[-1][1]["options"]["asset_url"]
    assert url.startswith(server_b.base_url) and httpx.get(url).status_code == 200
