"""Imported once by the worker forkserver as it starts: the server's main script, if it has one.

multiprocessing re-runs the parent's main script in every child it starts unless the child's own
``__main__`` is that script already. CPython's forkserver means to load it once (a ``"__main__"``
preload) but, up to 3.12 at least, never receives the script's path; the supervisor passes it in
this variable instead (see ``worker_process_context``), so workers start with it loaded.
"""

from __future__ import annotations

import os
from multiprocessing import spawn

MAIN_PATH_VARIABLE = "TAXIWAY_FORKSERVER_MAIN_PATH"

_main_path = os.environ.pop(MAIN_PATH_VARIABLE, None)
if _main_path:
    spawn.import_main_path(_main_path)
