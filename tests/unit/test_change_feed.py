"""The change feed's foundations: the triggers version every change the task JSON shows (and
nothing else), whoever writes it, and the horizon never passes a change still being written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from support import Server
from taxiway.core.db import Database
from taxiway.scheduler.claims import claim_next
from taxiway.store.changes import ChangeKey, changed, horizon
from taxiway.store.models import Task
from taxiway.tasks import lifecycle


def _row(server: Server, task_id: str) -> tuple[int, int]:
    with server.ctx.db.read() as session:
        task = session.get(Task, task_id)
        assert task is not None
        return task.version, task.change_seq


def test_every_shown_change_is_versioned_whoever_writes_it(
    make_server: Callable[..., Server], database_url: str, clip: Path
) -> None:
    server = make_server(workers=0, database_url=database_url)
    api = server.new_user()
    api.create_account()
    task_id = api.create("gen3alpha/upscale", {"assetId": api.upload(clip, "video/mp4")["assetId"]}).json()[
        "id"
    ]
    versions = [_row(server, task_id)]
    job = claim_next(server.ctx, "test")
    assert job is not None
    versions.append(_row(server, task_id))
    assert lifecycle.renew_lease(server.ctx, task_id, job.attempt)  # not in the JSON: no new version
    assert _row(server, task_id) == versions[-1]
    lifecycle.record_progress(server.ctx, task_id, job.attempt, 0.5, "half")
    versions.append(_row(server, task_id))
    with server.ctx.db.write() as session:  # a bulk UPDATE, as refresh_estimates writes
        session.execute(update(Task).where(Task.id == task_id).values(estimated_time_to_start=5))
    versions.append(_row(server, task_id))
    with server.ctx.db.write() as session:  # the same values again: nothing changed
        session.execute(update(Task).where(Task.id == task_id).values(estimated_time_to_start=5))
    assert _row(server, task_id) == versions[-1]
    assert [version for version, _ in versions] == [1, 2, 3, 4]
    seqs = [seq for _, seq in versions]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    deadline = time.monotonic() + 20  # on PostgreSQL, until every older transaction has ended
    while True:
        with server.ctx.db.snapshot() as session:
            below = horizon(session)
            rows = changed(session, ChangeKey(seqs[1]), below)
        if below > seqs[-1] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert below > seqs[-1] and [(row.id, row.version) for row in rows] == [(task_id, 4)]


def test_the_horizon_waits_for_a_change_still_being_written(
    make_server: Callable[..., Server], postgres_url: str, clip: Path
) -> None:
    """PostgreSQL gives out transaction ids in start order, not commit order: a change written by a
    transaction still open stays below every horizon until it commits, so no reader skips it."""
    server = make_server(workers=0, database_url=postgres_url)
    api = server.new_user()
    api.create_account()
    asset = api.upload(clip, "video/mp4")["assetId"]
    slow = api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"]
    db = server.ctx.db
    # Its creation first comes through: a transaction open elsewhere on the PostgreSQL server
    # (another test's, in another database) can hold every horizon back a while.
    _wait_for_changes(db, {slow: 1}, since=0)
    with db.write() as writing:
        task = writing.scalar(select(Task).where(Task.id == slow))
        assert task is not None
        task.progress_text = "written by a transaction that commits late"
        writing.flush()  # its change_seq is this transaction's id
        fast = api.create("gen3alpha/upscale", {"assetId": asset}).json()["id"]  # commits first
        with db.snapshot() as reading:
            held = horizon(reading)
            seen = {row.id: row.version for row in changed(reading, ChangeKey(0), held)}
        # The slow task as committed before (its creation); the fast one waits for the older
        # transaction, though it committed first.
        assert seen.get(slow) == 1 and fast not in seen
    # Now both come, once the horizon passes them (a transaction open anywhere on the PostgreSQL
    # server, in any database, holds it back a while: other tests' too).
    _wait_for_changes(db, {slow: 2, fast: 1}, since=held)


def _wait_for_changes(db: Database, expected: dict[str, int], *, since: int) -> None:
    """Until the changes after ``since`` below the horizon are ``expected`` (task id -> version)."""
    deadline = time.monotonic() + 20
    while True:
        with db.snapshot() as reading:
            rows = {row.id: row.version for row in changed(reading, ChangeKey(since), horizon(reading))}
        if rows == expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rows == expected
