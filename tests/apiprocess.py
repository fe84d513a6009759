"""`taxiway serve` as a real process, for tests that kill servers: start, wait healthy, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from support import free_port

TAXIWAY = str(Path(sys.executable).parent / "taxiway")


def settings_env(settings: dict[str, Any]) -> dict[str, str]:
    """Settings overrides as the TAXIWAY_* environment a process reads them from."""
    return {
        f"TAXIWAY_{name.upper()}": json.dumps(value) if isinstance(value, dict | list) else str(value)
        for name, value in settings.items()
    }


class ServeProcess:
    """One `taxiway serve` on a free loopback port, its log in `log_path`."""

    def __init__(self, settings: dict[str, Any], log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | settings_env(settings)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> ServeProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the process owns it until it exits)
        self.process = subprocess.Popen(
            [TAXIWAY, "serve", "--port", str(self.port)], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"taxiway serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"taxiway serve did not become healthy: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no lease hand-back, as when a machine dies."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
