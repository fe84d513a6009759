"""queuePosition: the claims' own order, shown on every waiting task, null once a task runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import Api, Server
from taxiway.accounts.service import set_plan
from taxiway.scheduler.claims import Work, claim_next, mark_throttled
from taxiway.tasks import lifecycle
from taxiway.tasks.queue import claim_order


def _create(api: Api, asset: str, **extra: object) -> str:
    response = api.create("gen3alpha/upscale", {"assetId": asset, **extra})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "PENDING" and response.json()["queuePosition"] is not None
    return response.json()["id"]


def _positions(api: Api, ids: list[str]) -> list[int | None]:
    return [api.task(task_id)["queuePosition"] for task_id in ids]


def test_positions_follow_the_claim_order_as_it_moves(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    for email in ("a@example.com", "b@example.com"):
        api.create_account(email, max_jobs=10)
    set_plan(idle_server.ctx.db, "a@example.com", "unlimited")
    asset_a = api.upload(clip, "video/mp4", email="a@example.com")["assetId"]
    asset_b = api.upload(clip, "video/mp4", email="b@example.com")["assetId"]
    explore = _create(api, asset_a, exploreMode=True)
    a1, a2, a3 = _create(api, asset_a), _create(api, asset_a), _create(api, asset_a)
    b1 = _create(api, asset_b)
    tasks = [a1, b1, a2, a3, explore]  # the claim order (tests/unit/test_claims.py)
    assert _positions(api, tasks) == [1, 2, 3, 4, 5]
    mark_throttled(idle_server.ctx, slots=1)  # THROTTLED tasks keep their places
    assert {api.task(task)["status"] for task in tasks} == {"THROTTLED"}
    assert _positions(api, tasks) == [1, 2, 3, 4, 5]
    ctx = idle_server.ctx
    first = claim_next(ctx, "test")
    assert first is not None and first.task_id == a1
    assert _positions(api, tasks) == [None, 1, 2, 3, 4]
    listed = {task["id"]: task["queuePosition"] for task in api.http.get("/tasks/").json()}
    assert [listed[task] for task in tasks] == [None, 1, 2, 3, 4]
    # b1 runs; a1 finishing makes account a the one with fewer running tasks: a2 then a3 still lead.
    assert (job := claim_next(ctx, "test")) is not None and job.task_id == b1
    assert _positions(api, tasks) == [None, None, 1, 2, 3]
    lifecycle.fail(ctx, first.task_id, first.attempt, "stop", "ENGINE_ERROR")
    assert api.task(a1)["queuePosition"] is None and api.task(a1)["status"] == "FAILED"
    assert _positions(api, tasks)[2:] == [1, 2, 3]
    cancelled = api.http.delete(f"/tasks/{a2}").json()
    assert cancelled["status"] == "CANCELLED" and cancelled["queuePosition"] is None
    assert _positions(api, tasks)[3:] == [1, 2]
    for expected in (a3, explore):
        assert (job := claim_next(ctx, "test")) is not None and job.task_id == expected


def test_tasks_queue_only_behind_their_own_kind_of_work(
    make_server: Callable[..., Server], clip: Path, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "sr.pth"
    checkpoint.write_bytes(b"weights")
    server = make_server(
        workers=0, neural_device="cpu", models={"sr": {"engine": "spandrel", "path": str(checkpoint)}}
    )
    api = server.new_user()
    api.create_account(max_jobs=10)
    asset = api.upload(clip, "video/mp4")["assetId"]
    classic = _create(api, asset, model="classic")
    neural = [_create(api, asset, model="sr"), _create(api, asset, model="sr")]
    assert _positions(api, [classic, *neural]) == [1, 1, 2]
    job = claim_next(server.ctx, "test", Work.NEURAL)
    assert job is not None and job.task_id == neural[0]
    assert _positions(api, [classic, *neural]) == [1, None, 1]


def test_claim_order_is_round_robin_by_running_tasks() -> None:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    waiting = [
        ("a1", 1, t0, False),
        ("a2", 1, t0 + timedelta(seconds=1), False),
        ("b1", 2, t0 + timedelta(seconds=2), False),
        ("c1", 3, t0 + timedelta(seconds=3), True),
        ("b2", 2, t0 + timedelta(seconds=4), False),
    ]
    # Account 1 already runs two tasks: account 2 goes first until it has as many.
    assert claim_order(waiting, {1: 2}) == {"b1": 1, "b2": 2, "a1": 3, "a2": 4, "c1": 5}
    assert claim_order(waiting, {}) == {"a1": 1, "b1": 2, "a2": 3, "b2": 4, "c1": 5}
