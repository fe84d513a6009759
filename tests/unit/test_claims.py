"""Claim order: accounts take turns, each account's oldest task first, exploreMode work last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from support import Server
from taxiway.accounts.service import set_plan
from taxiway.scheduler import claims
from taxiway.scheduler.claims import claim_next, mark_throttled
from taxiway.store.models import Task


def test_accounts_take_turns_and_explore_goes_last(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    for email in ("a@example.com", "b@example.com"):
        api.create_account(email, max_jobs=10)
    set_plan(idle_server.ctx.db, "a@example.com", "unlimited")
    asset_a = api.upload(clip, "video/mp4", email="a@example.com")["assetId"]
    asset_b = api.upload(clip, "video/mp4", email="b@example.com")["assetId"]

    def create(asset: str, **extra: object) -> str:
        response = api.create("gen3alpha/upscale", {"assetId": asset, **extra})
        assert response.status_code == 200, response.text
        return response.json()["id"]

    explore = create(asset_a, exploreMode=True)
    a1, a2, a3 = create(asset_a), create(asset_a), create(asset_a)
    b1 = create(asset_b)

    ctx = idle_server.ctx
    order = [claim_next(ctx, "test") for _ in range(5)]
    assert [job.task_id for job in order if job] == [a1, b1, a2, a3, explore]
    assert claim_next(ctx, "test") is None
    assert all(job and job.attempt == 1 and job.operation == "upscale" for job in order)


def test_waiting_tasks_become_throttled_with_an_estimate(idle_server: Server, clip: Path) -> None:
    api = idle_server.new_user()
    api.create_account(max_jobs=10)
    asset = api.upload(clip, "video/mp4")["assetId"]
    ids = [api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"] for _ in range(3)]
    assert mark_throttled(idle_server.ctx, slots=2) == 3
    with idle_server.ctx.db.read() as session:
        rows = {t.id: t for t in session.scalars(select(Task).where(Task.id.in_(ids)))}
    assert {rows[i].status for i in ids} == {"THROTTLED"}
    # Two free slots, 60 s per task before any history: the first two start now, the third after one.
    assert [rows[i].estimated_time_to_start for i in ids] == [0, 0, 60]
    assert api.task(ids[2])["estimatedTimeToStartSeconds"] == 60
    # A THROTTLED task is still claimable.
    job = claim_next(idle_server.ctx, "test")
    assert job is not None and job.task_id == ids[0]


def test_a_task_created_while_the_queue_is_estimated_waits_for_its_own_estimate(
    idle_server: Server, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = idle_server.new_user()
    api.create_account(max_jobs=10)
    asset = api.upload(clip, "video/mp4")["assetId"]
    first = api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"]
    late: list[str] = []
    estimate = claims.estimate_starts

    def estimate_then_create(*args: Any, **kwargs: Any) -> dict[str, float]:
        starts = estimate(*args, **kwargs)
        # A task arriving between the reading and the write (what a busy API server does).
        late.append(api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"])
        return starts

    monkeypatch.setattr(claims, "estimate_starts", estimate_then_create)
    # The late task is not marked with a made-up 0: it is left PENDING for the next tick.
    assert mark_throttled(idle_server.ctx, slots=1) == 1
    assert api.task(first)["status"] == "THROTTLED"
    assert api.task(late[0])["status"] == "PENDING"
    monkeypatch.setattr(claims, "estimate_starts", estimate)
    assert mark_throttled(idle_server.ctx, slots=1) == 1
    shown = api.task(late[0])  # behind the first task, 60 s per task before any history
    assert shown["status"] == "THROTTLED" and shown["estimatedTimeToStartSeconds"] == 60
