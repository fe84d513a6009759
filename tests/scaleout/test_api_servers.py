"""Several API server processes in front of one PostgreSQL and one S3 store (and a Ray dispatcher):
admission stays exact across processes, and killing a server loses no accepted task.

Each test starts real `taxiway serve` processes on loopback; figures go to the end-of-run report."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from apiprocess import ServeProcess, settings_env
from fault_figures import record
from mediafiles import make_video
from raycluster import DispatcherProcess, RayHead
from support import API
from taxiway.accounts.service import grant_credits
from taxiway.context import AppContext
from taxiway.core.settings import Settings
from taxiway.store.models import Account, Task
from taxiway.store.states import LIVE_STATUSES
from taxiway.users.service import create_user

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.fixture
def shared_settings(postgres_url: str, s3_settings: dict[str, Any]) -> dict[str, Any]:
    """What every process of one deployment shares: database, bucket, link key, timings."""
    return {
        "database_url": postgres_url,
        "secret_key": secrets.token_hex(16),
        "lease_seconds": 4,
        "scheduler_interval_seconds": 0.1,
        "x264_preset": "ultrafast",
        **s3_settings,
    }


@pytest.fixture
def deployment(shared_settings: dict[str, Any], tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Starts `taxiway serve` processes of one deployment."""
    started: list[ServeProcess] = []

    def serve(**overrides: Any) -> ServeProcess:
        index = len(started)
        settings = shared_settings | {"data_dir": tmp_path / f"server-{index}", **overrides}
        process = ServeProcess(settings, tmp_path / f"server-{index}.log").start()
        started.append(process)
        return process

    yield serve
    for process in started:
        process.stop()


@pytest.fixture
def operator_ctx(postgres_url: str, tmp_path: Path) -> Iterator[AppContext]:
    ctx = AppContext.build(Settings(database_url=postgres_url, data_dir=tmp_path / "operator"))
    yield ctx
    ctx.close()


def _client(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url + API, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _live_per_account(ctx: AppContext) -> dict[str, int]:
    with ctx.db.read() as session:
        rows = session.execute(
            select(Account.email, func.count(Task.id))
            .join(Task, Task.account_id == Account.id)
            .where(Task.status.in_(LIVE_STATUSES))
            .group_by(Account.email)
        ).all()
    return dict(rows)


def _accounts_with_assets(http: httpx.Client, limits: dict[str, int], clip: Path) -> dict[str, str]:
    """Create each account with its maxJobs and upload the clip to it; answers email -> assetId."""
    assets = {}
    for email, limit in limits.items():
        created = http.post(f"/accounts/{email}", json={"email": email, "maxJobs": limit})
        assert created.status_code == 200, created.text
        upload = http.post(
            "/assets/", params={"name": clip.name, "email": email}, content=clip.read_bytes(),
            headers={"Content-Type": "video/mp4"},
        )  # fmt: skip
        assert upload.status_code == 200, upload.text
        assets[email] = upload.json()["assetId"]
    return assets


def test_concurrent_creates_across_two_servers_admit_exactly_max_jobs(
    deployment: Callable[..., ServeProcess], operator_ctx: AppContext, tmp_path: Path
) -> None:
    # No workers anywhere: admitted tasks stay PENDING, so each account's limit is the exact count.
    servers = [deployment(executor="none"), deployment(executor="none")]
    _, token = create_user(operator_ctx.db, "fleet")
    clients = [_client(server.base_url, token) for server in servers]
    limits = {"one@example.com": 1, "two@example.com": 2, "three@example.com": 3, "five@example.com": 5}
    clip = make_video(tmp_path / "tiny.mp4", width=64, height=48, seconds=0.5, fps=12, audio=False)
    assets = _accounts_with_assets(clients[1], limits, clip)
    emails = list(limits)
    rounds, creates_per_round = 3, 200
    for _ in range(rounds):

        def create(n: int) -> tuple[str, int, str]:
            email = emails[n % len(emails)]
            body = {"videoAssetId": assets[email], "email": email}  # no spilling to another account
            response = clients[n % 2].post("/videos/upscale", json=body)
            return email, response.status_code, response.json().get("taskId", "")

        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(create, range(creates_per_round)))
        assert {status for _, status, _ in results} <= {200, 429}, Counter(s for _, s, _ in results)
        admitted = Counter(email for email, status, _ in results if status == 200)
        assert dict(admitted) == limits
        assert _live_per_account(operator_ctx) == limits
        for _, status, task_id in results:
            if status == 200:  # free the accounts for the next round
                assert clients[0].delete(f"/tasks/{task_id}").status_code == 200
    record(
        "200 concurrent creates on two API servers",
        tasks_created=sum(limits.values()) * rounds,
        refused_429=(creates_per_round - sum(limits.values())) * rounds,
        over_max_jobs=0,
    )


def test_killing_an_api_server_loses_no_accepted_task(
    deployment: Callable[..., ServeProcess],
    shared_settings: dict[str, Any],
    ray_head: RayHead,
    operator_ctx: AppContext,
    tmp_path: Path,
) -> None:
    doomed, survivor = deployment(executor="ray"), deployment(executor="ray")
    # The work runs on the Ray cluster, claimed by a dispatcher; clients only talk to the API servers.
    env = settings_env(shared_settings | {"data_dir": tmp_path / "dispatcher", "executor": "ray"})
    dispatcher = DispatcherProcess(ray_head, env, tmp_path / "dispatcher.log", cpu_slots=2).start()
    _, token = create_user(operator_ctx.db, "clients")
    limits = {"a@example.com": 2, "b@example.com": 2}
    clip = make_video(tmp_path / "tiny.mp4", width=64, height=48, seconds=0.5, fps=12, audio=False)
    setup = _client(survivor.base_url, token)
    assets = _accounts_with_assets(setup, limits, clip)
    for email in limits:  # enough credits that only maxJobs ever refuses a create
        grant_credits(operator_ctx.db, email, 1_000_000, None)

    accepted: list[str] = []
    refused = Counter[str]()
    most_live = Counter[str]()
    stop = threading.Event()
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        email = list(limits)[index % 2]
        connections = [_client(doomed.base_url, token), _client(survivor.base_url, token)]
        turn = index
        body = {"assetId": assets[email], "seconds": 5, "email": email}
        while not stop.is_set():
            http = connections[turn % 2]
            turn += 1
            try:
                response = http.post("/gen3/extend", json=body)
                for task_id in accepted[-3:]:
                    http.get(f"/tasks/{task_id}")  # poll through the same server
            except httpx.TransportError:
                connections = [connections[1]] * 2  # that server is gone: carry on with the other
                continue
            with lock:
                if response.status_code == 200:
                    accepted.append(response.json()["taskId"])
                else:
                    refused[str(response.status_code)] += 1
            time.sleep(0.05)

    def watch_limits() -> None:
        while not stop.is_set():
            for email, live in _live_per_account(operator_ctx).items():
                most_live[email] = max(most_live[email], live)
            time.sleep(0.05)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(4)]
    threads.append(threading.Thread(target=watch_limits))
    for thread in threads:
        thread.start()
    time.sleep(4)
    doomed.kill()
    time.sleep(6)
    stop.set()
    for thread in threads:
        thread.join(60)

    assert accepted and set(refused) <= {"429"}, refused
    assert all(most_live[email] <= limit for email, limit in limits.items()), most_live
    deadline = time.monotonic() + 180
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {task: setup.get(f"/tasks/{task}").json().get("status", "LOST") for task in accepted}
        if all(status in TERMINAL for status in statuses.values()):
            break
        time.sleep(0.5)
    lost = [task_id for task_id, status in statuses.items() if status not in TERMINAL]
    assert not lost, lost
    assert set(statuses.values()) == {"SUCCEEDED"}
    duplicates = [t for t in accepted if len(setup.get(f"/tasks/{t}").json()["artifacts"]) != 1]
    assert not duplicates
    dispatcher.terminate(timeout=30)
    record(
        "kill -9 an API server under load",
        tasks_created=len(accepted),
        faults_injected=1,
        tasks_lost=len(lost),
        duplicates=len(duplicates),
        over_max_jobs=sum(most_live[e] > limit for e, limit in limits.items()),
    )
