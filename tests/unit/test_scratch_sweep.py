"""Scratch sweeps: what a live process holds stays, what a killed one held goes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from taxiway.core import scratch
from taxiway.core.scratch import sweep, working_dir

HOLD = """
import sys, time
from pathlib import Path
from taxiway.core.scratch import working_dir
with working_dir(Path(sys.argv[1]), "held-") as path:
    (path / "output.mp4").write_bytes(b"x" * 1000)
    print(path, flush=True)
    time.sleep(60)
"""


def test_a_killed_process_s_directory_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    theirs = Path(child.stdout.readline().strip())
    with working_dir(tmp_path, "mine-") as mine:
        assert sweep(tmp_path) == []  # both alive: the other process's and this one's
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert sweep(tmp_path) == [theirs]
        assert not theirs.exists() and mine.is_dir()
    assert not mine.exists()  # its own end deletes it


def test_leftovers_without_a_lock_go_once_they_are_old(tmp_path: Path) -> None:
    stray = tmp_path / "3f1c.mp4"  # an upload from before locks, or a file dropped here
    stray.write_bytes(b"x")
    making = tmp_path / "being-made"
    making.mkdir()
    assert sweep(tmp_path) == []  # young: perhaps being made right now
    old = time.time() - scratch.UNLOCKED_GRACE_SECONDS - 1
    os.utime(stray, (old, old))
    os.utime(making, (old, old))
    assert sorted(sweep(tmp_path)) == sorted([stray, making])
    assert sweep(tmp_path / "missing") == []
