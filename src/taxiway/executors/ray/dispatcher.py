"""`taxiway dispatcher`: the long-lived process that runs tasks on an existing Ray cluster.

It is a Ray driver that owns one actor per slot and the same Scheduler `taxiway serve` runs with
local workers: it claims from the database, renews leases, applies cancels and records results.
It connects to a cluster started separately (`ray start --head`, KubeRay) and never starts one:
a driver that started its own Ray takes the cluster down with it when it dies.

Its actors are not detached, so they die with it: after a kill -9 their attempts' leases expire
and the next dispatcher (or another one already running) reruns them as new attempts. SIGTERM and
SIGINT stop it in order: running attempts are cancelled and handed back without counting against
the task, then the actors are killed.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import ray

from taxiway import __version__
from taxiway.context import AppContext, StartupError
from taxiway.core.settings import Settings
from taxiway.executors.ray.executor import RayExecutor, slot_specs
from taxiway.scheduler.loop import Scheduler

log = logging.getLogger(__name__)


def _warn_about_settings(settings: Settings) -> None:
    if settings.executor == "local":
        log.warning(
            "TAXIWAY_EXECUTOR is 'local': API servers that share these settings run tasks too; "
            "set it to 'ray' so that `taxiway serve` only serves the API"
        )
    if settings.blob_backend == "local":
        log.warning(
            "blob_backend is 'local' (%s): actors on other machines can reach it only on a shared "
            "filesystem; use S3 storage for a multi-node cluster",
            settings.resolved_blob_dir,
        )


def run_dispatcher(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    specs = slot_specs(settings)
    if not settings.ray_address or not specs:
        raise ValueError("the dispatcher needs a Ray address and at least one slot")  # the CLI checks both
    _warn_about_settings(settings)

    # The database and storage first: a wrong URL or a missing bucket fails before Ray is touched.
    try:
        ctx = AppContext.build(settings)
    except StartupError as exc:
        log.error("%s", exc)
        return 1
    try:
        ray.init(address=settings.ray_address, namespace=settings.ray_namespace)
    except Exception as exc:
        log.error("could not connect to the Ray cluster at %s: %s", settings.ray_address, exc)
        ctx.close()
        return 1

    # After ray.init, which installs a SIGTERM handler of its own that exits at once.
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    executor = RayExecutor(ctx, specs)
    executor.start()
    scheduler = Scheduler(ctx, executor)
    scheduler.start()
    log.info(
        "taxiway %s dispatcher %s: Ray at %s (namespace %s), %d slot(s): %s%s; database %s",
        __version__,
        scheduler.owner,
        settings.ray_address,
        settings.ray_namespace,
        len(specs),
        ", ".join(f"{s.name} (num_cpus={s.num_cpus:g}, num_gpus={s.num_gpus:g})" for s in specs),
        "" if settings.run_neural else " (neural tasks left to other dispatchers)",
        ctx.db.engine.url.render_as_string(hide_password=True),
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        # No new claims first, then running attempts are handed back (not counted) and actors killed.
        scheduler.stop()
        executor.stop(timeout=settings.cancel_grace_seconds + 10.0)
        ray.shutdown()
        ctx.close()
    log.info("dispatcher stopped")
    return 0
