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
    assert api.http.get("/accounts/explorer@example.com").json()["plan"] == "unlimited"  # the default
    set_plan(queued.ctx.db, "explorer@example.com", "standard")
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


def test_the_account_that_owns_the_asset_runs_and_pays_with_no_spill(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("owner@example.com", max_jobs=1)
    api.create_account("other@example.com", max_jobs=1)
    owned = _asset(api, clip, email="owner@example.com")
    others = _asset(api, clip, email="other@example.com")
    one = api.create("gen3alpha/upscale", {"assetId": owned}).json()
    assert one["taskId"].split("-task:")[0].endswith("owner@example.com")

    # The owner is busy: 429 with its running task and the contract's advice to wait, though
    # another account has room.
    busy = api.create("videos/upscale", {"videoAssetId": owned})
    assert busy.status_code == 429
    assert busy.headers["Retry-After"] == "10"
    assert busy.json()["error"] == "Account owner@example.com is busy executing 1 tasks"
    assert [t["taskId"] for t in busy.json()["runningTasks"]["owner@example.com"]] == [one["taskId"]]

    # The owner is short of credits: 412 about the owner, though another account has plenty.
    api.http.delete(f"/tasks/{one['taskId']}")
    grant_credits(queued.ctx.db, "owner@example.com", -999)
    poor = api.create("videos/upscale", {"videoAssetId": owned})
    assert poor.status_code == 412
    assert (poor.json()["email"], poor.json()["creditsAvailable"]) == ("owner@example.com", 1)

    # The other account busy with its own asset answers 429 about itself, never 412 about another.
    assert api.create("gen3alpha/upscale", {"assetId": others}).status_code == 200
    mine = api.create("gen3alpha/upscale", {"assetId": others})
    assert mine.status_code == 429
    assert mine.json()["error"] == "Account other@example.com is busy executing 1 tasks"

    # An explicit email (additive) picks the account that runs and pays.
    api.create_account("third@example.com", max_jobs=1)
    pinned = api.create("gen3alpha/upscale", {"assetId": owned, "email": "third@example.com"})
    assert pinned.status_code == 200
    assert pinned.json()["taskId"].split("-task:")[0].endswith("third@example.com")
    missing = api.create("gen3alpha/upscale", {"assetId": owned, "email": "none@example.com"})
    assert missing.status_code == 404


def test_an_asset_of_a_deleted_account_needs_an_email(queued: Server, clip: Path) -> None:
    api = queued.new_user()
    api.create_account("gone@example.com")
    api.create_account("kept@example.com")
    asset = _asset(api, clip, email="gone@example.com")
    assert api.http.delete("/accounts/gone@example.com").status_code in (200, 204)
    response = api.create("gen3alpha/upscale", {"assetId": asset})
    assert response.status_code == 400
    assert "belongs to account gone@example.com, which has been deleted" in response.json()["error"]
    kept = api.create("gen3alpha/upscale", {"assetId": asset, "email": "kept@example.com"})
    assert kept.status_code == 200


def test_no_accounts_configured(queued: Server) -> None:
    api = queued.new_user()
    response = api.http.post(
        "/assets/", params={"name": "x.mp4"}, content=b"data", headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("No accounts configured")
