"""Starting a worker process does not re-run the server's main module: the forkserver holds it.

multiprocessing runs the parent's main module again in each child it starts (as ``__mp_main__``)
unless the forkserver has loaded it; for `taxiway serve` that was the whole CLI and API, about a
CPU-second for every worker start and restart. Each case here starts three workers the server's
way (``worker_process_context``) from a main that imports a marker module, which notes every
process that loads it: the parent and the forkserver, never the workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MAIN = """
import marker  # noqa: F401  (notes this process)

if __name__ == "__main__":
    import os
    from taxiway.executors.local.supervisor import worker_process_context

    context = worker_process_context()
    for _ in range(3):
        process = context.Process(target=os.getpid)
        process.start()
        process.join(30)
        assert process.exitcode == 0, process.exitcode
"""


@pytest.mark.parametrize("how", ["script", "module"])
def test_a_worker_start_loads_the_main_module_only_in_the_forkserver(tmp_path: Path, how: str) -> None:
    log = tmp_path / "loads.txt"
    (tmp_path / "marker.py").write_text(
        f"import os\nwith open({str(log)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n"
    )
    (tmp_path / "serve_like.py").write_text(MAIN)
    command = [sys.executable, str(tmp_path / "serve_like.py")] if how == "script" else [
        sys.executable, "-m", "serve_like"
    ]  # fmt: skip
    source = str(Path(__file__).resolve().parents[2] / "src")
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), source])}
    subprocess.run(command, cwd=tmp_path, env=env, check=True, timeout=120)
    loads = log.read_text().split()
    assert len(loads) == len(set(loads)) == 2, f"the marker was loaded by {len(loads)} processes"
