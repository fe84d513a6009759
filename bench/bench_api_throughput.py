"""API throughput: task creates and reads of a real `taxiway serve` on SQLite against a bare FastAPI
+ SQLAlchemy + SQLite app doing the same row write or read (bench/bare_api.py), in one run.

The server runs no work (``workers = 0``), so every task it admits stays PENDING in the queue and
the benchmark measures the API, not encoding. Each scenario sends a fixed number of requests from
1 and from 8 clients (threads, one keep-alive httpx connection each) to each app in turn:

- create: POST videos/upscale of one uploaded clip, the accounts taken in turn (maxJobs 10 each,
  the bare app refuses past 10 live tasks of an "account" too);
- get: GET tasks/{taskId} of a task created before, at random.

Then the same with ``--streams`` event streams (GET tasks/{taskId}/events of waiting tasks) held
open on the server by another process, which counts the events they get. The bare app has no
streams: its figures are the ones without.

    PYTHONPATH=src python bench/bench_api_throughput.py [--creates 300] [--gets 600] [--streams 200]
        [--server-env TAXIWAY_X=Y ...] [--profile DIR]

``--profile DIR`` runs the server under ``py-spy record`` (pip install py-spy; not a dependency of
taxiway) and writes DIR/taxiway.txt, collapsed stacks of every process of the server, and a summary
of the functions with the most samples (DIR/summary.txt).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
API = "/v1/runwayml"
MAX_JOBS = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(base_url: str, path: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{base_url} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(base_url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not start: {log.read_text()[-3000:]}")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class Process:
    """A server process (maybe under py-spy), stopped gently so py-spy writes its profile."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        self.log = log
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )

    def stop(self, profiled: bool) -> None:
        if self.process.poll() is not None:
            return
        # Under py-spy, stop the server itself: py-spy then writes its file and exits.
        targets = children(self.process.pid) if profiled else [self.process.pid]
        for pid in targets or [self.process.pid]:
            os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Result:
    requests: int
    seconds: float
    latencies: list[float]
    errors: Counter[int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


Request = Callable[[httpx.Client, int], httpx.Response]


def load(base_url: str, headers: dict[str, str], request: Request, total: int, clients: int) -> Result:
    """``total`` requests spread over ``clients`` threads; each request's number goes to ``request``."""
    latencies: list[float] = []
    errors: Counter[int] = Counter()
    numbers = iter(range(total))
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
            http.get("/health")  # connect before the clock starts
            start.wait()
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                began = time.perf_counter()
                response = request(http, number)
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)
                    if response.status_code != 200:
                        errors[response.status_code] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(total, time.perf_counter() - began, latencies, errors)


class Target:
    """One app under test: how it creates and reads a task."""

    name: str
    base_url: str
    headers: dict[str, str]

    def __init__(self) -> None:
        self.created: list[str] = []
        self._lock = threading.Lock()
        self.accounts: list[str] = []

    def create(self, http: httpx.Client, number: int) -> httpx.Response:
        raise NotImplementedError

    def get(self, http: httpx.Client, number: int) -> httpx.Response:
        raise NotImplementedError

    def _created(self, response: httpx.Response, key: str) -> httpx.Response:
        if response.status_code == 200:
            with self._lock:
                self.created.append(response.json()[key])
        return response


class Taxiway(Target):
    name = "taxiway"

    def __init__(self, base_url: str, token: str, asset: str, accounts: list[str]) -> None:
        super().__init__()
        self.base_url, self.headers = base_url, {"Authorization": f"Bearer {token}"}
        self.asset, self.accounts = asset, accounts
        self._next = 0

    def create(self, http: httpx.Client, number: int) -> httpx.Response:
        with self._lock:
            email = self.accounts[self._next % len(self.accounts)]
            self._next += 1
        body = {"videoAssetId": self.asset, "email": email}
        return self._created(http.post(f"{API}/videos/upscale", json=body), "taskId")

    def get(self, http: httpx.Client, number: int) -> httpx.Response:
        return http.get(f"{API}/tasks/{random.choice(self.created)}")


class Bare(Target):
    name = "bare"

    def __init__(self, base_url: str, accounts: list[str]) -> None:
        super().__init__()
        self.base_url, self.headers, self.accounts = (
            base_url,
            {"Authorization": "Bearer bench-token"},
            accounts,
        )
        self._next = 0

    def create(self, http: httpx.Client, number: int) -> httpx.Response:
        with self._lock:
            email = self.accounts[self._next % len(self.accounts)]
            self._next += 1
        return self._created(http.post("/tasks", json={"videoAssetId": "asset", "email": email}), "id")

    def get(self, http: httpx.Client, number: int) -> httpx.Response:
        return http.get(f"/tasks/{random.choice(self.created)}")


def start_taxiway(work: Path, extra_env: dict[str, str], profile: Path | None) -> tuple[Process, Taxiway]:
    from taxiway.media.sample import write_sample_clip

    env = os.environ | {"TAXIWAY_DATA_DIR": str(work / "taxiway"), "TAXIWAY_WORKERS": "0"} | extra_env
    token = subprocess.run(
        [str(BIN / "taxiway"), "admin", "user", "create", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    port = free_port()
    command = [str(BIN / "taxiway"), "serve", "--port", str(port)]
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        command = [
            str(BIN / "py-spy"), "record", "--subprocesses", "--rate", "250", "--format", "raw",
            "--output", str(profile / "taxiway.txt"), "--", *command,
        ]  # fmt: skip
    server = Process(command, env, work / "taxiway.log")
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(base_url, "/health", server.process, server.log)
    headers = {"Authorization": f"Bearer {token}"}
    accounts = [f"acct{i}@bench.example" for i in range(400)]
    with httpx.Client(base_url=base_url + API, headers=headers, timeout=60) as http:
        for email in accounts:
            http.post(f"/accounts/{email}", json={"email": email, "maxJobs": MAX_JOBS}).raise_for_status()
        clip = write_sample_clip(work / "clip.mp4", seconds=0.5, width=320, height=180)
        response = http.post(
            "/assets/",
            params={"name": "clip.mp4", "email": accounts[0]},
            content=clip.read_bytes(),
            headers={"Content-Type": "video/mp4"},
        )
        response.raise_for_status()
    return server, Taxiway(base_url, token, response.json()["assetId"], accounts)


def start_bare(work: Path) -> tuple[Process, Bare]:
    port = free_port()
    env = os.environ | {"BARE_API_DB": str(work / "bare.db")}
    command = [sys.executable, "-m", "uvicorn", "bare_api:app", "--port", str(port), "--log-level", "info"]
    server = Process(command, env, work / "bare.log", cwd=BENCH)
    base_url = f"http://127.0.0.1:{port}"
    wait_healthy(base_url, "/docs", server.process, server.log)
    return server, Bare(base_url, [f"acct{i}@bench.example" for i in range(400)])


# Event streams, held by a process of their own so that their reading does not slow the clients.


def hold_streams(base_url: str, token: str, task_ids: list[str], report: Path) -> None:
    """Open one stream per task, read them until SIGTERM, then write what they got to ``report``."""
    counts = {"opened": 0, "events": 0, "failed": 0, "open_at_end": 0}

    async def follow(http: httpx.AsyncClient, task_id: str, opened: asyncio.Event) -> None:
        try:
            async with http.stream("GET", f"{API}/tasks/{task_id}/events") as response:
                if response.status_code != 200:
                    counts["failed"] += 1
                    return
                counts["opened"] += 1
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        counts["events"] += 1
                        opened.set()
        except (httpx.HTTPError, asyncio.CancelledError):
            pass

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        limits = httpx.Limits(max_connections=len(task_ids) + 10, max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=None) as http:
            firsts = [asyncio.Event() for _ in task_ids]
            streams = [asyncio.create_task(follow(http, t, e)) for t, e in zip(task_ids, firsts, strict=True)]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in firsts)), 120)
            print("streams open", flush=True)
            await stop.wait()
            counts["open_at_end"] = sum(not stream.done() for stream in streams)
            for stream in streams:
                stream.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
        report.write_text(json.dumps(counts))

    asyncio.run(main())


class Streams:
    def __init__(self, target: Taxiway, count: int, work: Path) -> None:
        self.report = work / "streams.json"
        ids = work / "stream-tasks.json"
        ids.write_text(json.dumps(target.created[:count]))
        token = target.headers["Authorization"].split()[1]
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--hold-streams", target.base_url, token, str(ids), str(self.report)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "streams open" not in line:
            raise RuntimeError(f"the streams did not open: {line!r}")

    def close(self) -> dict[str, int]:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        return json.loads(self.report.read_text())


def row(scenario: str, clients: int, bare: Result, ours: Result) -> str:
    def cells(result: Result) -> str:
        failed = sum(result.errors.values())
        note = f" ({failed} not 200: {dict(result.errors)})" if failed else ""
        return f"{result.rate:.0f}{note} | {result.percentile(0.5):.1f} | {result.percentile(0.99):.0f}"

    return f"| {scenario} | {clients} | {cells(bare)} | {cells(ours)} | **{bare.rate / ours.rate:.2f}** |"


def summarise_profile(profile: Path) -> None:
    """The functions with the most samples, inclusive and as the innermost frame (py-spy raw format)."""
    inclusive: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    total = 0
    for line in (profile / "taxiway.txt").read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
        innermost[frames[-1]] += int(count)
    lines = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("innermost", innermost)):
        lines.append(f"\n## {title}")
        lines += [f"{100 * n / total:5.1f}%  {frame}" for frame, n in counter.most_common(60)]
    (profile / "summary.txt").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=300, help="creates per scenario at 1 client (×2 at 8)")
    parser.add_argument("--gets", type=int, default=600, help="reads per scenario at 1 client (×2 at 8)")
    parser.add_argument("--streams", type=int, default=200, help="event streams held open (0: none)")
    parser.add_argument("--kinds", default="create,get", help="which requests to time (create, get)")
    parser.add_argument("--clients", default="1,8", help="client counts to time")
    parser.add_argument("--server-env", action="append", default=[], help="TAXIWAY_X=Y for the server")
    parser.add_argument("--profile", type=Path, help="run the server under py-spy, writing here")
    parser.add_argument("--hold-streams", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold_streams:
        base_url, token, ids, report = args.hold_streams
        hold_streams(base_url, token, json.loads(Path(ids).read_text()), Path(report))
        return
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    random.seed(18)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        work = Path(tmp)
        ours_server, ours = start_taxiway(work, extra_env, args.profile)
        bare_server, bare = start_bare(work)
        table: list[str] = []
        results: dict[str, Any] = {}
        try:

            def scenario(label: str, creates: int, gets: int) -> None:
                for clients in [int(n) for n in args.clients.split(",")]:
                    for kind, total in (("create", creates * (1 if clients == 1 else 2)),
                                        ("get", gets * (1 if clients == 1 else 2))):  # fmt: skip
                        if kind not in args.kinds.split(","):
                            continue
                        pair = []
                        if kind == "get" and not ours.created:  # something to read
                            load(ours.base_url, ours.headers, ours.create, 20, 1)
                            load(bare.base_url, bare.headers, bare.create, 20, 1)
                        for target in (bare, ours):
                            request = target.create if kind == "create" else target.get
                            load(target.base_url, target.headers, request, 20, clients)  # warm-up
                            pair.append(load(target.base_url, target.headers, request, total, clients))
                        name = f"{kind}{label}"
                        table.append(row(name, clients, *pair))
                        results[f"{name}/{clients}"] = {
                            t.name: {
                                "rate": r.rate,
                                "p50_ms": r.percentile(0.5),
                                "p99_ms": r.percentile(0.99),
                            }
                            for t, r in zip((bare, ours), pair, strict=True)
                        }
                        print(table[-1], f"(waiting tasks: {len(ours.created)})", flush=True)

            print("| Scenario | Clients | bare req/s | bare p50 ms | bare p99 ms | taxiway req/s "
                  "| taxiway p50 ms | taxiway p99 ms | bare/taxiway |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|")
            scenario("", args.creates, args.gets)
            if args.streams:
                streams = Streams(ours, args.streams, work)
                try:
                    scenario(f", {args.streams} streams open", args.creates, args.gets)
                finally:
                    got = streams.close()
                print(f"streams: {got}")
                results["streams"] = got
            results["waiting_tasks"] = len(ours.created)
        finally:
            bare_server.stop(profiled=False)
            ours_server.stop(profiled=args.profile is not None)
        print(json.dumps(results))
        if args.profile is not None:
            summarise_profile(args.profile)
            print(f"profile: {args.profile / 'taxiway.txt'}, summary {args.profile / 'summary.txt'}")


if __name__ == "__main__":
    main()
