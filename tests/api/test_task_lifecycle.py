"""A task end to end through HTTP: admission, progress, artifact, cancel and delete."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from mediafiles import make_video
from support import API, Api, Server
from taxiway.media.probe import probe_file


def test_upscale_runs_end_to_end(server: Server, api: Api, clip: Path, tmp_path: Path) -> None:
    asset = api.upload(clip, "video/mp4", name="holiday.mp4")
    created = api.create("videos/upscale", {"videoAssetId": asset["assetId"], "replyRef": "my-ref"})
    assert created.status_code == 200, created.text
    task = created.json()
    assert task["status"] == "PENDING"
    # As videos/upscale's page shows them: progressRatio a string, the time to start a number.
    assert (task["progressRatio"], task["estimatedTimeToStartSeconds"]) == ("0", 0)
    assert task["taskType"] == "harrods"
    assert task["options"]["engine"] == "classic-upscale"
    assert task["replyRef"] == "my-ref"
    assert task["code"] == 200
    assert task["taskId"].startswith("user:") and task["taskId"].endswith(f"-task:{task['id']}")
    assert task["features"]["numPlanCredits_used"] == 4  # 2 credits/s × 2 s

    seen_ratios = []
    deadline = time.monotonic() + 120
    while (current := api.task(task["taskId"]))["status"] not in ("SUCCEEDED", "FAILED"):
        seen_ratios.append(float(current["progressRatio"]))
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert current["status"] == "SUCCEEDED", current["error"]
    assert (current["progressRatio"], current["estimatedTimeToStartSeconds"]) == ("1", 0)
    assert seen_ratios == sorted(seen_ratios)

    [artifact] = current["artifacts"]
    assert artifact["filename"] == "holiday 4K.mp4"  # the page's "<source name> 4K.mp4"
    assert artifact["metadata"]["dimensions"] == [4096, 3072]
    assert artifact["metadata"]["size"] == {"width": 4096, "height": 3072}
    assert abs(artifact["metadata"]["duration"] - 2.0) <= 1 / 24 + 1e-3
    assert isinstance(artifact["fileSize"], str) and int(artifact["fileSize"]) > 0
    assert artifact["previewUrls"]

    # The signed link works without the bearer token and serves the real file.
    download = httpx.get(artifact["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    out = tmp_path / "out.mp4"
    out.write_bytes(download.content)
    assert len(download.content) == int(artifact["fileSize"])
    info = probe_file(out, "video")
    assert (info.width, info.height) == (4096, 3072)
    assert info.has_audio

    # The artifact is an asset of the same account, usable as the input of the next operation.
    again = api.http.get(f"/assets/{artifact['assetId']}").json()
    assert again["taskId"] == task["taskId"]
    assert again["isUserUpload"] is False
    second = api.create("gen3alpha/upscale", {"assetId": artifact["assetId"]})
    assert second.status_code == 200, second.text


def test_tampered_or_expired_links_are_refused(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account()
    url = api.upload(clip, "video/mp4")["url"]
    assert httpx.get(url).status_code == 200
    tampered = url.replace("signature=", "signature=x")
    response = httpx.get(tampered)
    assert response.status_code == 403
    assert response.json()["error"].startswith("This link is invalid or has expired")
    expired = url.split("?")[0] + "?expires=1&signature=abc"
    assert httpx.get(expired).status_code == 403
    # Malformed signatures and expiries: the same 403 in the contract's shape, never a 500.
    base, query = url.split("?")
    good_expiry = dict(part.split("=", 1) for part in query.split("&"))["expires"]
    for hostile in (
        f"expires={good_expiry}&signature=%C3%A9",
        f"expires={good_expiry}&signature=%00%FF",
        f"expires={good_expiry}&signature={'A' * 5000}",
        "expires=soon&signature=abc",
        f"expires={'9' * 400}&signature=abc",
        "expires=-1&signature=",
        "signature=abc",
        "",
    ):
        response = httpx.get(f"{base}?{hostile}")
        assert response.status_code == 403, (hostile, response.text)
        assert response.json()["code"] == 403


def test_a_link_signature_that_is_not_ascii_is_refused_not_a_500(idle_server: Server, clip: Path) -> None:
    """Found by schemathesis: hmac.compare_digest raises on non-ASCII text, so such a link was a 500."""
    api = idle_server.new_user()
    api.create_account()
    url = api.upload(clip, "video/mp4")["url"]
    response = httpx.get(url.split("signature=")[0] + "signature=%C3%A9t%C3%A9")
    assert response.status_code == 403
    assert response.json() == {
        "error": "This link is invalid or has expired; get a fresh one from the asset or task",
        "code": 403,
    }


def test_cancel_a_running_task_stops_it_and_refunds(server: Server, api: Api, media_dir: Path) -> None:
    slow = make_video(media_dir / "slow-12s.mp4", width=320, height=180, seconds=12.0, fps=24, audio=False)
    asset = api.upload(slow, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 24
    running = api.wait(task["taskId"], statuses=("RUNNING",))
    assert running["status"] == "RUNNING"
    while api.task(task["taskId"])["progressRatio"] == "0":
        time.sleep(0.05)
    workers = server.executor_pids()
    started = time.monotonic()
    response = api.http.delete(f"/tasks/{task['taskId']}")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0
    # The worker stops at its next frame and becomes free for the next task: the same process,
    # so it stopped as asked rather than being killed after the cancel grace.
    deadline = started + 10
    while server.app.state.executor.in_flight():
        assert time.monotonic() < deadline, "the worker did not stop"
        time.sleep(0.05)
    assert server.executor_pids() == workers
    assert api.task(task["taskId"])["artifacts"] == []
    assert api.http.get("/scheduler/").json() == []


def test_cancel_a_queued_task_and_delete_finished_ones(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account()
    asset = api.upload(clip, "video/mp4")
    task = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    scheduler = api.http.get("/scheduler/").json()
    assert [entry["taskId"] for entry in scheduler] == [task["taskId"]]
    assert api.http.delete(f"/scheduler/{task['taskId']}").status_code == 204
    assert api.task(task["taskId"])["status"] == "CANCELLED"
    # Cancelling again: it is no longer scheduled.
    again = api.http.delete(f"/scheduler/{task['taskId']}")
    assert again.status_code == 404
    assert "is not scheduled: it is CANCELLED" in again.json()["error"]
    # A finished task is deleted outright.
    assert api.http.delete(f"/tasks/{task['taskId']}").status_code == 204
    assert api.http.get(f"/tasks/{task['taskId']}").status_code == 404


def test_deleting_a_task_deletes_its_artifacts(server: Server, api: Api, short_clip: Path) -> None:
    asset = api.upload(short_clip, "video/mp4")
    task = api.wait(api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()["taskId"])
    [artifact] = task["artifacts"]
    assert httpx.get(artifact["url"]).status_code == 200
    assert api.http.delete(f"/tasks/{task['taskId']}").status_code == 204
    assert api.http.get(f"/assets/{artifact['assetId']}").status_code == 404
    assert httpx.get(artifact["url"]).status_code == 404


def test_list_and_filter_tasks(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account("one@example.com")
    api.create_account("two@example.com")
    asset = api.upload(clip, "video/mp4", email="one@example.com")
    first = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    second = api.create("gen3alpha/upscale", {"assetId": asset["assetId"], "email": "two@example.com"}).json()
    api.http.delete(f"/tasks/{first['taskId']}")
    listed = api.http.get("/tasks/").json()
    assert [task["id"] for task in listed] == [second["id"], first["id"]]
    cancelled = api.http.get("/tasks/", params={"statuses": "CANCELLED"}).json()
    assert [task["id"] for task in cancelled] == [first["id"]]
    by_account = api.http.get("/tasks/", params={"email": "two@example.com"}).json()
    assert [task["id"] for task in by_account] == [second["id"]]
    page = api.http.get("/tasks/", params={"offset": 1, "limit": 1}).json()
    assert [task["id"] for task in page] == [first["id"]]
    bad = api.http.get("/tasks/", params={"statuses": "RUNNING,DONE"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("statuses has unknown value(s) DONE")
    assert api.http.get("/tasks/", params={"limit": 0}).json()["error"] == (
        "limit 0 is out of range; valid range: 1…1000"
    )


def test_tasks_and_assets_are_private(idle_server: Server, clip: Path) -> None:
    alice = idle_server.new_user()
    alice.create_account("a@example.com")
    bob = idle_server.new_user()
    bob.create_account("b@example.com")
    asset = alice.upload(clip, "video/mp4")
    task = alice.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    for path in (f"/tasks/{task['taskId']}", f"/tasks/{task['id']}", f"/assets/{asset['assetId']}"):
        response = bob.http.get(path)
        assert response.status_code == 404, path
    assert bob.http.delete(f"/tasks/{task['taskId']}").status_code == 404
    assert bob.http.delete(f"/scheduler/{task['taskId']}").status_code == 404
    assert bob.http.delete(f"/assets/{asset['assetId']}").status_code == 404
    assert bob.http.get("/tasks/").json() == []
    assert bob.http.get("/assets/").json() == []
    assert bob.http.get("/scheduler/").json() == []
    assert alice.task(task["taskId"])["status"] == "PENDING"


def test_task_ids_must_name_the_right_account(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account("a@example.com")
    task = api.create("gen3alpha/upscale", {"assetId": api.upload(clip, "video/mp4")["assetId"]}).json()
    forged = task["taskId"].replace("a@example.com", "z@example.com")
    assert api.http.get(f"/tasks/{forged}").status_code == 404
    assert api.http.get("/tasks/garbage").json() == {
        "error": "Unable to retrieve taskId garbage (Not found.)",
        "code": 404,
    }
    assert httpx.get(idle_server.base_url + API + f"/tasks/{task['taskId']}").status_code == 401
