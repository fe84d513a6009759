"""Per-account storage quotas (features.storageGB) and asset groups, through HTTP."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import API, Api, Server
from taxiway.accounts.service import set_storage_quota

EMAIL = "me@example.com"


@pytest.fixture
def worker(make_server: Any) -> Server:
    """A SQLite server that runs tasks (the quota's locking on PostgreSQL has its own race test)."""
    return make_server()


def _files(server: Server) -> list[Path]:
    root = server.ctx.settings.resolved_blob_dir
    return sorted(path for path in root.rglob("*") if path.is_file())


def _used_bytes(api: Api) -> int:
    return sum(asset["fileSize"] for asset in api.http.get("/assets/", params={"limit": 50}).json())


def _quota(server: Server, size: int) -> None:
    set_storage_quota(server.ctx.db, EMAIL, size / 10**9)


def test_storage_gb_is_the_accounts_quota_and_features_say_what_is_used(
    idle_server: Server, clip: Path
) -> None:
    api = idle_server.new_user()
    api.create_account(EMAIL)
    asset = api.upload(clip, "video/mp4")
    features = api.http.get("/features").json()
    assert features["storageGB"] == 500  # the default, as the contract's examples show
    assert features["storageUsedGB"] == round(asset["fileSize"] / 10**9, 3)
    task = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    assert task["features"] == {"storageGB": 500, "numPlanCredits_permitted": 1000, "numPlanCredits_used": 4}
    set_storage_quota(idle_server.ctx.db, EMAIL, 2.5)
    assert api.http.get("/features").json()["storageGB"] == 2.5


def test_an_upload_over_the_quota_is_refused_and_nothing_is_kept(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account(EMAIL)
    first = api.upload(clip, "video/mp4")
    files = _files(idle_server)
    _quota(idle_server, first["fileSize"] + clip.stat().st_size // 2)  # room for half a clip more

    response = api.http.post(
        "/assets/",
        params={"name": "again.mp4"},
        content=clip.read_bytes(),
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == 413
    assert body["error"].startswith("This upload of ")
    assert f"would exceed the storage quota of account {EMAIL}" in body["error"]
    assert "taxiway admin account storage" in body["error"]
    assert body["storageUsedGB"] == round(first["fileSize"] / 10**9, 3)

    # A streamed upload (no Content-Length) is received, then refused the same way.
    streamed = api.http.post(
        "/assets/",
        params={"name": "streamed.mp4"},
        content=iter([clip.read_bytes()]),
        headers={"Content-Type": "video/mp4"},
    )
    assert streamed.status_code == 413, streamed.text
    assert [a["id"] for a in api.http.get("/assets/").json()] == [first["id"]]
    assert _files(idle_server) == files  # no partial or orphan file left
    assert not list((idle_server.ctx.settings.scratch_dir / "uploads").iterdir())


def _task_with_quota(server: Server, clip: Path, room: int) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    api = server.new_user()
    api.create_account(EMAIL)
    asset = api.upload(clip, "video/mp4")
    _quota(server, _used_bytes(api) + room)
    task = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    return api, asset, api.wait(task["taskId"])


def test_an_artifact_over_the_quota_fails_the_task_and_refunds_it(worker: Server, short_clip: Path) -> None:
    server = worker
    api, asset, task = _task_with_quota(server, short_clip, room=1000)  # 1 kB: no 4K video fits
    assert task["status"] == "FAILED"
    assert task["error"]["reason"] == "STORAGE_QUOTA_EXCEEDED"
    assert task["error"]["errorMessage"].startswith("The output of ")
    assert task["artifacts"] == []
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0  # refunded
    assert [a["id"] for a in api.http.get("/assets/").json()] == [asset["id"]]
    assert not list((server.ctx.settings.resolved_blob_dir / "artifacts").rglob("*.mp4"))


def test_a_task_on_a_full_account_fails_before_it_runs(worker: Server, short_clip: Path) -> None:
    server = worker
    api, _asset, task = _task_with_quota(server, short_clip, room=0)
    assert task["status"] == "FAILED"
    assert task["error"]["reason"] == "STORAGE_QUOTA_EXCEEDED"
    assert "has no storage left" in task["error"]["errorMessage"]
    assert task["progressText"] is None  # never ran
    assert api.http.get("/features").json()["used"]["numPlanCredits"] == 0


def test_an_upload_and_everything_made_from_it_share_one_asset_group(
    worker: Server, short_clip: Path
) -> None:
    server = worker
    api = server.new_user()
    api.create_account(EMAIL)
    source = api.upload(short_clip, "video/mp4", name="holiday.mp4")
    other = api.upload(short_clip, "video/mp4", name="other.mp4")
    assert source["assetGroupId"] == source["id"] and other["assetGroupId"] == other["id"]

    alpha = api.create("gen3alpha/upscale", {"assetId": source["assetId"]}).json()
    assert alpha["options"]["parent_asset_group_id"] == source["id"]
    assert alpha["options"]["task_artifact_id"] == source["id"]
    alpha = api.wait(alpha["taskId"])
    [upscaled] = alpha["artifacts"]
    assert api.http.get(f"/assets/{upscaled['assetId']}").json()["assetGroupId"] == source["id"]

    # Made from the artifact: still the upload's group.
    again = api.create("videos/upscale", {"videoAssetId": upscaled["assetId"]}).json()
    assert again["options"]["parent_asset_group_id"] == source["id"]
    assert "task_artifact_id" not in again["options"]  # only gen3alpha/upscale's page shows it

    group = api.http.get("/assets/", params={"assetGroupId": source["id"]}).json()
    assert {asset["id"] for asset in group} == {source["id"], upscaled["id"]}
    assert [a["id"] for a in api.http.get("/assets/", params={"assetGroupId": other["id"]}).json()] == [
        other["id"]
    ]


def test_uploads_racing_for_the_last_room_never_exceed_the_quota(
    make_server: Any, database_url: str, clip: Path
) -> None:
    server = make_server(workers=0, database_url=database_url)
    api = server.new_user()
    api.create_account(EMAIL)
    size = api.upload(clip, "video/mp4")["fileSize"]
    _quota(server, 2 * size + size // 2)  # room for one more, not two

    def upload(_: int) -> int:
        with httpx.Client(
            base_url=api.base_url + API, headers={"Authorization": f"Bearer {api.token}"}
        ) as http:
            return http.post(
                "/assets/", params={"name": "race.mp4"}, content=iter([clip.read_bytes()]),
                headers={"Content-Type": "video/mp4"}, timeout=60,
            ).status_code  # fmt: skip

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = sorted(pool.map(upload, range(4)))
    assert codes == [200, 413, 413, 413]
    assert _used_bytes(api) <= 2 * size + size // 2


def test_an_upload_is_found_by_its_sha256_while_its_account_lives(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account(EMAIL)
    api.create_account("other@example.com")
    asset = api.upload(clip, "video/mp4", email="other@example.com")
    sha256 = hashlib.sha256(clip.read_bytes()).hexdigest()
    assert asset["contentSha256"] == sha256
    found = api.http.get("/assets/", params={"sha256": sha256.upper()}).json()
    assert [a["id"] for a in found] == [asset["id"]]
    assert api.http.get("/assets/", params={"sha256": "0" * 64}).json() == []
    api.http.delete("/accounts/other@example.com")
    assert api.http.get("/assets/", params={"sha256": sha256}).json() == []  # not reusable now
