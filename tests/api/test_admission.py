"""Admission: maxJobs (exact under concurrency), credits, exploreMode, account choice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import API, Api, Server
from taxiway.accounts.service import grant_credits, set_plan


@pytest.fixture
def queued(make_server, database_url: str) -> Server:  # type: ignore[no-untyped-def]
    """A server that admits but never runs work, so every admitted task stays live."""
    return make_server(workers=0, database_url=database_url)


def _asset(api: Api, clip: Path, **params: Any) -> str:
    return api.upload(clip, "video/mp4", **params)["assetId"]


def test_max_jobs_429_lists_the_running_tasks(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("busy@example.com", max_jobs=2)
    asset = _asset(api, clip)
    first = api.create(
        "gen3alpha/upscale", {"assetId": asset, "replyUrl": "https://93.184.215.14/a", "replyRef": "r1"}
    )
    second = api.create("gen3alpha/upscale", {"assetId": asset}).json()
    assert first.status_code == 200
    response = api.create("gen3alpha/upscale", {"assetId": asset})
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "Account busy@example.com is busy executing 2 tasks"
    assert body["code"] == 429
    running = body["runningTasks"]["busy@example.com"]
    assert [entry["taskId"] for entry in running] == [first.json()["taskId"], second["taskId"]]
    assert running[0]["email"] == "busy@example.com"
    assert running[0]["replyUrl"] == "https://93.184.215.14/a"
    assert running[0]["replyRef"] == "r1"
    assert running[0]["id"] == first.json()["id"]

    # maxJobs in the request overrides the account's for this admission.
    assert api.create("gen3alpha/upscale", {"assetId": asset, "maxJobs": 3}).status_code == 200
    assert api.create("gen3alpha/upscale", {"assetId": asset, "maxJobs": 3}).status_code == 429
    # A cancelled task frees its slot.
    api.http.delete(f"/tasks/{second['taskId']}")
    assert api.create("gen3alpha/upscale", {"assetId": asset, "maxJobs": 3}).status_code == 200


def test_concurrent_creates_never_exceed_max_jobs(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("race@example.com", max_jobs=3)
    asset = _asset(api, clip)

    def create(_: int) -> int:
        with httpx.Client(
            base_url=api.base_url + API, headers={"Authorization": f"Bearer {api.token}"}
        ) as http:
            return http.post("/gen3alpha/upscale", json={"assetId": asset}, timeout=60).status_code

    for _round in range(2):
        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(create, range(40)))
        assert sorted(set(codes)) == [200, 429] if _round == 0 else [429]
        live = api.http.get("/scheduler/").json()
        assert len(live) == 3
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 3 * 4


def test_insufficient_credits_412(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("poor@example.com")
    grant_credits(queued.ctx.db, "poor@example.com", -997)  # 3 credits left; a 2 s upscale costs 4
    response = api.create("videos/upscale", {"videoAssetId": _asset(api, clip)})
    assert response.status_code == 412
    body = response.json()
    assert body["error"] == "You do not have enough credits to run this task."
    assert body["code"] == 412
    assert body["creditsRequired"] == 4
    assert body["creditsAvailable"] == 3
    assert api.http.get("/scheduler/").json() == []


def test_explore_mode_needs_the_unlimited_plan(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("explorer@example.com")
    asset = _asset(api, clip)
    refused = api.create("gen3alpha/upscale", {"assetId": asset, "exploreMode": True})
    assert refused.status_code == 412
    assert "exploreMode is free only on the unlimited plan" in refused.json()["error"]
    assert "taxiway admin account plan explorer@example.com unlimited" in refused.json()["error"]

    set_plan(queued.ctx.db, "explorer@example.com", "unlimited")
    grant_credits(queued.ctx.db, "explorer@example.com", -1000)
    free = api.create("gen3alpha/upscale", {"assetId": asset, "exploreMode": True})
    assert free.status_code == 200
    assert free.json()["options"]["exploreMode"] is True
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0
    # Paid work on an unlimited account still needs credits.
    assert api.create("gen3alpha/upscale", {"assetId": asset}).status_code == 412


def test_busy_account_overflows_to_one_with_capacity(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("first@example.com", max_jobs=1)
    api.create_account("second@example.com", max_jobs=1)
    asset = _asset(api, clip, email="first@example.com")
    one = api.create("gen3alpha/upscale", {"assetId": asset}).json()
    two = api.create("gen3alpha/upscale", {"assetId": asset}).json()
    assert one["taskId"].split("-task:")[0].endswith("first@example.com")
    assert two["taskId"].split("-task:")[0].endswith("second@example.com")
    busy = api.create("gen3alpha/upscale", {"assetId": asset})
    assert busy.status_code == 429
    assert busy.json()["error"] == "Account first@example.com is busy executing 1 tasks"
    # Naming the account pins the task to it.
    pinned = api.create("gen3alpha/upscale", {"assetId": asset, "email": "second@example.com"})
    assert pinned.status_code == 429
    assert pinned.json()["error"] == "Account second@example.com is busy executing 1 tasks"
    missing = api.create("gen3alpha/upscale", {"assetId": asset, "email": "none@example.com"})
    assert missing.status_code == 404


def test_no_accounts_configured(queued: Server) -> None:
    api = queued.new_user()
    response = api.http.post(
        "/assets/", params={"name": "x.mp4"}, content=b"data", headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("No accounts configured")
