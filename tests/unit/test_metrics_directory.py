"""Where a server's processes write their metrics: a directory of its own under its scratch space,
set before prometheus_client is imported, held while the server lives, and swept once it died."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SERVER = """
import os, sys
from pathlib import Path
from taxiway.core import metrics
path = metrics.use_own_directory(Path(sys.argv[1]))
assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
metrics.queue_wait("classic", 1.0)  # prometheus_client's first import: multiprocess mode
assert metrics.multiprocess_directory() == str(path)
print(path, flush=True)
if sys.argv[2] == "killed":
    os._exit(0)  # no clean-up at all, as after kill -9
"""


def _server(parent: Path, end: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", SERVER, str(parent), end], capture_output=True, text=True, check=True
    )
    return Path(result.stdout.strip())


def test_a_server_deletes_its_directory_and_the_next_one_sweeps_a_killed_ones(tmp_path: Path) -> None:
    parent = tmp_path / "scratch" / "metrics"
    killed = _server(parent, "killed")
    assert killed.parent == parent and killed.name.startswith("server-")
    assert sorted(path.name for path in killed.glob("*.db")) == [f"histogram_{killed.name.split('-')[1]}.db"]
    stopped = _server(parent, "exits")
    assert not killed.exists(), "what a dead server left is swept by the next"
    assert not stopped.exists(), "a server that exits deletes its own"


def test_the_command_line_loads_no_prometheus_client_before_serve_sets_the_directory() -> None:
    check = (
        "import sys, taxiway.cli.main, taxiway.cli.startup, taxiway.context\n"
        "print('prometheus_client' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
