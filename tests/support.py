"""Test helpers shared by the suites: real servers on free ports and a thin HTTP client."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from taxiway.api.app import ApiServer, create_app
from taxiway.client import Policy
from taxiway.context import AppContext
from taxiway.core.settings import Settings
from taxiway.engines import devices
from taxiway.users.service import create_user

API = "/v1/runwayml"

# Short waits so 429 retries and polling run in test time; the defaults follow the contract's advice.
FAST = Policy(
    busy_interval_seconds=0.2,
    max_busy_interval_seconds=0.4,
    busy_timeout_seconds=30,
    poll_interval_seconds=0.1,
    max_poll_interval_seconds=0.5,
    backoff_seconds=0.05,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: every socket stays bound until all are chosen."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def settings_for_test(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "workers": 1,
        "lease_seconds": 4.0,
        "scheduler_interval_seconds": 0.1,
        "x264_preset": "ultrafast",
        "allow_private_callbacks": True,
        "webhook_progress_interval_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


def stand_in_gpu_probe(monkeypatch: pytest.MonkeyPatch, gpus: int) -> None:
    """Replace the server's device probe with one that sees `gpus` GPUs (no torch import: fast)."""
    found = {"cuda": gpus > 0, "gpu": "Test GPU" if gpus else None, "count": gpus}
    monkeypatch.setattr(devices, "DEVICE_PROBE", f"print({json.dumps(json.dumps(found))})")


class Api:
    """A thin HTTP helper for tests: one user's view of a running server."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        # Idle connections are dropped before uvicorn's own 5 s keep-alive ends them: with both at
        # 5 s, a request could go out on a connection the server was closing (connection reset).
        self.http = httpx.Client(
            base_url=base_url + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

    def create_account(
        self, email: str = "me@example.com", max_jobs: int = 5, **extra: Any
    ) -> dict[str, Any]:
        response = self.http.post(f"/accounts/{email}", json={"email": email, "maxJobs": max_jobs, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def upload(self, path: Path, content_type: str, name: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.http.post(
            "/assets/",
            params={"name": name or path.name, **params},
            content=path.read_bytes(),
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 200, response.text
        return response.json()

    def create(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/{path}", json=body)

    def task(self, task_id: str) -> dict[str, Any]:
        response = self.http.get(f"/tasks/{task_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait(
        self,
        task_id: str,
        statuses: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELLED"),
        timeout: float = 120,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if task["status"] in statuses:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} still {task['status']} after {timeout}s: {task}")
            time.sleep(0.1)

    def wait_running_with_progress(self, task_id: str, timeout: float = 60) -> None:
        """Until the task runs and has reported progress: the moment tests strike at its worker."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.task(task_id)
            if task["status"] == "RUNNING" and float(task["progressRatio"] or 0) > 0:
                return
            assert task["status"] in ("PENDING", "THROTTLED", "RUNNING"), task
            assert time.monotonic() < deadline, task
            time.sleep(0.02)


class Server:
    """A real uvicorn server in a background thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.base_url = f"http://127.0.0.1:{settings.port}"
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=settings.port, log_level="warning", lifespan="on"
        )
        self._server = ApiServer(config, self.app)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        # Tests that strike at workers need them up; wait for every slot's process to be ready.
        executor = self.app.state.executor
        while executor is not None and len(executor.idle_slots()) < executor.size:
            if time.monotonic() > deadline:
                raise RuntimeError("worker processes did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(60)

    @property
    def ctx(self) -> AppContext:
        return self.app.state.ctx

    def new_user(self, name: str | None = None) -> Api:
        _, token = create_user(self.ctx.db, name or f"user-{secrets.token_hex(3)}")
        return Api(self.base_url, token)

    def executor_pids(self) -> list[int]:
        executor = self.app.state.executor
        return [pid for slot in executor.slots if (pid := slot.pid) is not None] if executor else []


class Scrape:
    """One answer of GET /metrics, parsed: each sample's value by its name and labels."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the scrape has no such sample (a labelled metric not observed)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in self.samples

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self.samples}

    def labels(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for found, labels in self.samples if found == name]

    def family(self, prefix: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample whose name starts with ``prefix``."""
        return {key: value for key, value in self.samples.items() if key[0].startswith(prefix)}


def scrape(url: str, token: str | None = None) -> Scrape:
    """GET ``url`` (a server's /metrics), which must answer 200 in Prometheus's text format."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.text)


class Receiver:
    """A local HTTP endpoint that records callbacks; it can be told to fail the first N."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1
                    if not failing:
                        receiver.received.append((dict(self.headers), body))
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def wait_for(self, status: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for payload in self.payloads():
                if payload["status"] == status:
                    return payload
            time.sleep(0.05)
        raise AssertionError(f"no {status} callback; got {[p['status'] for p in self.payloads()]}")
