"""Metrics of real `taxiway serve` processes: a server adds up what its worker processes observed
(prometheus_client's multiprocess mode, in a directory of its own under its scratch space, which
goes when it stops), a dead worker's counts stay, servers on one PostgreSQL report the same
database figures, and the Grafana dashboard and the README name only metrics a real scrape has."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apiprocess import ServeProcess
from support import Api, Scrape, scrape
from taxiway.context import AppContext
from taxiway.core.settings import Settings
from taxiway.users.service import create_user

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "taxiway.json"
UPSCALE = {"operation": "videos/upscale", "engine": "classic-upscale"}
# What the database knows: every server reads it at scrape time.
DATABASE_FAMILIES = (
    "taxiway_tasks",
    "taxiway_queue_depth",
    "taxiway_queue_oldest_age_seconds",
    "taxiway_credits_charged",
    "taxiway_credits_refunded",
    "taxiway_webhook_deliveries",
)
TIMINGS = {"x264_preset": "ultrafast", "scheduler_interval_seconds": 0.1, "lease_seconds": 4}


def _user(base_url: str, settings: Settings, name: str) -> Api:
    ctx = AppContext.build(settings)
    try:
        _, token = create_user(ctx.db, name)
    finally:
        ctx.close()
    api = Api(base_url, token)
    api.create_account()
    return api


def _upscale(api: Api, clip: Path) -> dict[str, Any]:
    asset = api.upload(clip, "video/mp4")
    return api.wait(api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()["taskId"])


@dataclass
class Served:
    process: ServeProcess
    data_dir: Path
    scrape: Scrape  # taken after one upscale SUCCEEDED


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, short_clip: Path) -> Iterator[Served]:
    """One `taxiway serve` with one worker process (SQLite), after one upscale of short_clip."""
    data_dir = tmp_path_factory.mktemp("serve-metrics")
    process = ServeProcess({"data_dir": data_dir, "workers": 1, **TIMINGS}, data_dir / "serve.log").start()
    try:
        api = _user(process.base_url, Settings(data_dir=data_dir), "metrics")
        task = _upscale(api, short_clip)
        assert task["status"] == "SUCCEEDED", task
        yield Served(process, data_dir, scrape(process.base_url + "/metrics"))
    finally:
        process.stop()


def _pids(directory: Path) -> set[int]:
    return {
        int(match[1]) for path in directory.glob("*.db") if (match := re.search(r"_(\d+)\.db$", path.name))
    }


def test_a_server_adds_up_its_worker_processes_metrics(served: Served) -> None:
    found = served.scrape
    # Observed in the worker process: 0.5 s at 24 fps is 12 frames.
    assert found.value("taxiway_engine_frames_total", engine="classic-upscale") == 12
    assert found.value("taxiway_engine_frames_per_second_count", engine="classic-upscale") == 1
    assert found.value("taxiway_engine_frames_per_second_sum", engine="classic-upscale") > 0
    # Observed in the server process, in the same scrape.
    assert found.value("taxiway_task_run_seconds_count", **UPSCALE, status="SUCCEEDED") == 1
    assert found.value("taxiway_queue_wait_seconds_count", work="classic") == 1
    assert found.value("taxiway_tasks", **UPSCALE, status="SUCCEEDED") == 1
    slots = {
        state: found.value("taxiway_worker_slots", kind="classic", state=state)
        for state in ("busy", "idle", "starting")
    }
    assert slots == {"busy": 0, "idle": 1, "starting": 0}

    # One directory of this server's own, holding the server's files and its worker's.
    assert served.process.process is not None
    server_pid = served.process.process.pid
    [directory] = (served.data_dir / "scratch" / "metrics").iterdir()
    assert directory.name.startswith(f"server-{server_pid}-")
    [worker_pid] = _pids(directory) - {server_pid}

    # A worker that dies is replaced; what it counted stays counted.
    os.kill(worker_pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while Path(f"/proc/{worker_pid}").exists():  # until its supervisor has seen it die (and reaped it)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    url = served.process.base_url + "/metrics"
    while (after := scrape(url)).value("taxiway_worker_slots", kind="classic", state="idle") != 1:
        assert time.monotonic() < deadline, after.family("taxiway_worker_slots")
        time.sleep(0.2)
    assert after.value("taxiway_engine_frames_total", engine="classic-upscale") == 12
    assert after.value("taxiway_worker_slots", kind="classic", state="starting") == 0

    # A server that stops takes its directory with it.
    served.process.stop()
    assert not directory.exists()


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    panels = [
        *dashboard["panels"],
        *(inner for panel in dashboard["panels"] for inner in panel.get("panels", [])),
    ]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def _family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count|total)$", "", name)


def test_the_dashboard_names_only_metrics_a_server_exposes_and_shows_each(served: Served) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = _expressions(dashboard)
    assert expressions and all(isinstance(expression, str) for expression in expressions)
    named = {name for expression in expressions for name in re.findall(r"\btaxiway_[a-z0-9_]+", expression)}
    exposed = {name for name in served.scrape.names if name.startswith("taxiway_")}
    assert named - exposed == set(), "the dashboard names metrics no server exposes"
    assert {_family(name) for name in exposed} - {_family(name) for name in named} == set(), (
        "metrics the dashboard does not show"
    )


def test_the_readme_describes_every_metric_a_server_exposes(served: Served) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Metrics") :]
    section = section[: section.index("\n## ", 1)]
    families = {_family(name) for name in served.scrape.names if name.startswith("taxiway_")}
    assert {family for family in families if f"`{family}" not in section} == set()


def test_two_servers_on_one_postgresql_report_the_same_database_figures(
    postgres_url: str, tmp_path: Path, short_clip: Path
) -> None:
    shared = {
        "database_url": postgres_url,
        "secret_key": secrets.token_hex(16),
        "blob_dir": tmp_path / "blobs",  # one folder both servers see, as a shared disk would be
        **TIMINGS,
    }
    runner = ServeProcess(shared | {"data_dir": tmp_path / "runner", "workers": 1}, tmp_path / "runner.log")
    front = ServeProcess(
        shared | {"data_dir": tmp_path / "front", "executor": "none"}, tmp_path / "front.log"
    )
    try:
        runner.start()
        front.start()
        settings = Settings(database_url=postgres_url, data_dir=tmp_path / "operator")
        api = _user(front.base_url, settings, "fleet")  # every request goes to the front server
        assert _upscale(api, short_clip)["status"] == "SUCCEEDED"  # run by the runner's worker
        asset = api.upload(short_clip, "video/mp4")
        created = api.create("videos/upscale", {"videoAssetId": asset["assetId"]}).json()
        assert api.http.delete(f"/tasks/{created['taskId']}").json()["status"] == "CANCELLED"
        scrapes = [scrape(runner.base_url + "/metrics"), scrape(front.base_url + "/metrics")]
    finally:
        front.stop()
        runner.stop()

    ran, answered = (
        {key: value for key, value in found.samples.items() if key[0] in DATABASE_FAMILIES}
        for found in scrapes
    )
    assert ran == answered
    assert scrapes[0].value("taxiway_tasks", **UPSCALE, status="SUCCEEDED") == 1
    assert scrapes[0].value("taxiway_tasks", **UPSCALE, status="CANCELLED") == 1
    assert (
        scrapes[0].value("taxiway_credits_charged") == 2 and scrapes[0].value("taxiway_credits_refunded") == 1
    )
    # What each process observed is its own: the runner ran the work, the front answered the requests.
    created_upscale = {"method": "POST", "route": "/v1/runwayml/videos/upscale", "status": "200"}
    assert scrapes[0].value("taxiway_task_run_seconds_count", **UPSCALE, status="SUCCEEDED") == 1
    assert scrapes[0].value("taxiway_engine_frames_total", engine="classic-upscale") == 12
    assert scrapes[0].value("taxiway_http_requests_total", **created_upscale) == 0
    assert scrapes[1].value("taxiway_http_requests_total", **created_upscale) == 2
    assert scrapes[1].value("taxiway_task_run_seconds_count", **UPSCALE, status="SUCCEEDED") == 0
    assert not scrapes[1].family("taxiway_worker_slots")
