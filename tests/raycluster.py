"""A real Ray cluster for the tests: one `ray start --head` on loopback, and `taxiway dispatcher` processes.

The head gets every port it would otherwise fix named on its command line, a temp dir of its own,
and a fresh auth token (Ray 2.60 turns token authentication on by default), so it collides with
nothing else on the machine. It runs with --block in a process group of its own, so the tests stop
exactly the processes they started (`ray stop` would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import free_ports

START_TIMEOUT_SECONDS = 90.0
BIN = Path(sys.executable).parent
# Ray refuses loopback as a node address unless it thinks it runs on a laptop (macOS/Windows):
# this switch makes it advertise and bind 127.0.0.1, so no test traffic leaves loopback.
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
PORT_OPTIONS = (
    "port",
    "node-manager-port",
    "object-manager-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "runtime-env-agent-port",
    "metrics-export-port",
)
ACTOR_READY = re.compile(r"slot (\S+): actor ready in process (\d+)")


def ray_unavailable_reason() -> str | None:
    """Why the Ray tests cannot run here, or None when they can."""
    if importlib.util.find_spec("ray") is None:
        return "ray is not installed (pip install -e '.[test]')"
    if not (BIN / "ray").is_file():
        return f"the `ray` command is not beside {sys.executable}"
    return None


def _process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has already died


class RayHead:
    """One single-node Ray cluster, started with `ray start --head --block`."""

    def __init__(self, num_cpus: int = 4) -> None:
        # Short on purpose: Ray's unix sockets live under it and their paths must stay < 108 bytes.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="twray-", dir="/tmp"))
        self.log_path = self.temp_dir / "ray-start.log"
        self.ports = dict(zip(PORT_OPTIONS, free_ports(len(PORT_OPTIONS)), strict=True))
        self.address = f"127.0.0.1:{self.ports['port']}"
        self.num_cpus = num_cpus
        self.token = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to join this cluster as a driver."""
        return {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            LOOPBACK_ONLY: "0",
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def start(self) -> RayHead:
        command = [
            str(BIN / "ray"),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={self.temp_dir}",
            f"--num-cpus={self.num_cpus}",
            # A GPU in name only: GPU slots get placed (their actors see CUDA_VISIBLE_DEVICES=0, and
            # torch no CUDA device), so routing to them can be tested on CPU machines.
            "--num-gpus=1",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--object-store-memory={200 * 1024**2}",
            *(f"--{option}={port}" for option, port in self.ports.items()),
        ]
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                command,
                env=os.environ | self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while "Ray runtime started" not in self.log_tail(200):
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"ray start --head did not start:\n{tail}")
            time.sleep(0.2)
        return self

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process = self._process
        if process is not None:
            # `ray start --block` stops its GCS, raylet, agents and workers itself on SIGTERM (in about
            # 2 s); whatever of its process group is left after that is killed outright.
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


class DispatcherProcess:
    """One `taxiway dispatcher` process connected to `head`, its log in `log_path`."""

    def __init__(
        self, head: RayHead, env: dict[str, str], log_path: Path, cpu_slots: int = 1, gpu_slots: int = 0
    ) -> None:
        self.head = head
        self.env = os.environ | head.env() | env
        self.log_path = log_path
        self.cpu_slots = cpu_slots
        self.gpu_slots = gpu_slots
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120) -> DispatcherProcess:
        """Start it and wait until every slot's actor is up."""
        command = [
            str(BIN / "taxiway"),
            "dispatcher",
            "--ray-address",
            self.head.address,
            "--cpu-slots",
            str(self.cpu_slots),
            "--gpu-slots",
            str(self.gpu_slots),
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while len(self.actor_pids()) < self.cpu_slots + self.gpu_slots:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"taxiway dispatcher did not get ready:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def actor_pids(self) -> dict[str, int]:
        """slot name -> process id of its latest actor, as the dispatcher logged them."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return {}
        return {slot: int(pid) for slot, pid in ACTOR_READY.findall(text)}

    def slots_that_ran(self, task_id: str) -> list[str]:
        """The slots (e.g. "cpu-0") that started an attempt of `task_id`, as the dispatcher logged them."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return re.findall(rf"slot (\S+): task {re.escape(task_id)} attempt \d+ started", text)

    def actor_starts(self) -> int:
        """How many actors this dispatcher has started (more than its slots: some were replaced)."""
        try:
            return len(ACTOR_READY.findall(self.log_path.read_text(errors="replace")))
        except OSError:
            return 0

    def kill(self) -> None:
        """kill -9: no hand-back, no goodbye to Ray, as when its machine dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM, and the exit code once it has stopped in order."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


def wait_until_gone(pid: int, timeout: float = 30) -> bool:
    """True once process `pid` has exited (within `timeout`)."""
    deadline = time.monotonic() + timeout
    while _process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
