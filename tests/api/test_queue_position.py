"""queuePosition: the claims' own order, shown on every waiting task, null once a task runs."""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import event, select

from support import Api, Server
from taxiway.accounts.service import set_plan
from taxiway.context import AppContext
from taxiway.core import ids
from taxiway.scheduler.claims import Work, claim_next, mark_throttled
from taxiway.store import states
from taxiway.store.models import Account, Task
from taxiway.tasks import lifecycle
from taxiway.tasks.queue import CLASSIC_WORK, NEURAL_WORK, claim_order, queue_positions, work_kind
from taxiway.users.service import create_user


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


# The database computes the positions (tasks/queue.py's claim_order_query); claim_order plays the
# claims in Python. Both must be the order the scheduler's claims actually take.


def _accounts(server: Server, count: int) -> tuple[str, list[int]]:
    user, token = create_user(server.ctx.db, f"queue-{secrets.token_hex(3)}")
    api = Api(server.base_url, token)
    emails = [f"q{i}@example.com" for i in range(count)]
    for email in emails:
        api.create_account(email, max_jobs=10)
    with server.ctx.db.read() as session:
        ids = {a.email: a.id for a in session.scalars(select(Account).where(Account.user_id == user.id))}
    return user.id, [ids[email] for email in emails]


def _add_task(
    ctx: AppContext, user_id: str, account_id: int, created_at: datetime, *, explore: bool = False,
    engine: str | None = "classic-upscale", status: str = states.PENDING,
) -> str:  # fmt: skip
    with ctx.db.write() as session:
        task = Task(
            id=ids.new_uuid(), user_id=user_id, account_id=account_id, operation="videos/upscale",
            name="queued", params={}, options={}, engine=engine, status=status, explore_mode=explore,
            created_at=created_at, updated_at=created_at,
        )  # fmt: skip
        session.add(task)
    return task.id


def _played_in_python(ctx: AppContext) -> dict[str, int]:
    """claim_order over every waiting task as the rows are now, per kind of work."""
    with ctx.db.write() as session:  # a write session: no process-wide cache on the way
        rows = session.execute(
            select(Task.id, Task.account_id, Task.created_at, Task.explore_mode, Task.engine, Task.status)
        ).all()
    running = Counter(row.account_id for row in rows if row.status == states.RUNNING)
    order: dict[str, int] = {}
    for kind in (CLASSIC_WORK, NEURAL_WORK):
        waiting = [
            (row.id, row.account_id, row.created_at, row.explore_mode)
            for row in rows
            if row.status in states.RUNNABLE_STATUSES and work_kind(row.engine) == kind
        ]
        order |= claim_order(waiting, dict(running))
    return order


def _shown(ctx: AppContext, *, write: bool = False) -> dict[str, int]:
    """queue_positions of every task: in a read session (SQLite: the process-wide cache), or one
    task at a time in a write session (the database computes only the ones asked for)."""
    if write:
        with ctx.db.write() as session:
            tasks = list(session.scalars(select(Task)))
            return {t: p for task in tasks for t, p in queue_positions(session, [task]).items()}
    with ctx.db.read() as session:
        return queue_positions(session, list(session.scalars(select(Task))))


def test_the_database_sorts_the_claim_order_as_claim_order_plays_it(
    make_server: Callable[..., Server], database_url: str
) -> None:
    server = make_server(workers=0, database_url=database_url)
    ctx = server.ctx
    user, accounts = _accounts(server, 4)
    rng = random.Random(18)
    t0 = datetime(2026, 12, 4, tzinfo=UTC)
    for account, running in zip(accounts, (0, 2, 1, 0), strict=True):
        for _ in range(running):
            _add_task(ctx, user, account, t0, status=states.RUNNING)
    for n in range(40):
        # Some tasks share their creation time (the claims then go by id), in one account or across.
        created = t0 + timedelta(seconds=rng.choice((n, n, n // 4)))
        _add_task(
            ctx, user, rng.choice(accounts), created, explore=rng.random() < 0.3,
            engine=rng.choice(("classic-upscale", None, "spandrel")),
            status=rng.choice((states.PENDING, states.THROTTLED)),
        )  # fmt: skip
    expected = _played_in_python(ctx)
    assert len(expected) == 40
    assert _shown(ctx) == expected
    counted = _shown(ctx, write=True)
    assert counted == expected
    assert {type(position) for position in counted.values()} == {int}  # JSON has no Decimal
    with ctx.db.read() as session:
        engines = dict(session.execute(select(Task.id, Task.engine)).all())
    for work, kind in ((Work.CLASSIC, CLASSIC_WORK), (Work.NEURAL, NEURAL_WORK)):
        # (The classic tasks running after the first round count in the neural order too.)
        shown = _shown(ctx)
        queue = sorted((p, t) for t, p in shown.items() if work_kind(engines[t]) == kind)
        claimed = []
        while (job := claim_next(ctx, "test", work)) is not None:
            claimed.append(job.task_id)
            assert _shown(ctx) == _played_in_python(ctx)  # the positions follow each claim
        assert claimed == [task for _, task in queue]


def test_the_process_wide_positions_follow_every_change_that_moves_the_queue(
    idle_server: Server, clip: Path
) -> None:
    ctx = idle_server.ctx
    api = idle_server.new_user()
    for email in ("a@example.com", "b@example.com"):
        api.create_account(email, max_jobs=10)
    set_plan(ctx.db, "a@example.com", "unlimited")
    asset_a = api.upload(clip, "video/mp4", email="a@example.com")["assetId"]
    asset_b = api.upload(clip, "video/mp4", email="b@example.com")["assetId"]
    a = [_create(api, asset_a) for _ in range(3)]

    def check() -> None:
        assert _shown(ctx) == _played_in_python(ctx)
        assert {t: api.task(t)["queuePosition"] for t in a} == {t: _shown(ctx).get(t) for t in a}

    check()
    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(ctx.db.read_engine, "before_cursor_execute", note)
    with ctx.db.read() as session:  # the queue stood still: one read of the change counter
        task = session.get(Task, a[2])
        statements.clear()
        assert queue_positions(session, [task]) == {a[2]: 3}
    event.remove(ctx.db.read_engine, "before_cursor_execute", note)
    assert len(statements) == 1 and "change_counters" in statements[0]
    b = _create(api, asset_b)  # another account's first task goes second
    assert api.task(b)["queuePosition"] == 2 and api.task(a[2])["queuePosition"] == 4
    check()
    explore = _create(api, asset_a, exploreMode=True)  # after all paid work
    assert api.task(explore)["queuePosition"] == 5
    mark_throttled(ctx, slots=1)  # THROTTLED: the counter moves, the places do not
    check()
    first = claim_next(ctx, "test")
    assert first is not None and first.task_id == a[0]
    check()  # a runs one task now: b's goes first
    assert api.task(b)["queuePosition"] == 1
    lifecycle.fail(ctx, first.task_id, first.attempt, "stop", "ENGINE_ERROR")
    check()  # a runs none again
    assert api.http.delete(f"/tasks/{a[1]}").json()["status"] == "CANCELLED"
    check()
    assert [api.task(t)["queuePosition"] for t in (a[2], b, explore)] == [1, 2, 3]
