"""Prometheus metrics observed where things happen: in a server process and its worker processes.

One server is several processes (the API, its scheduler and its supervisor in one; a worker process
per slot), so these are written in prometheus_client's multiprocess mode: each process keeps its
values in files in PROMETHEUS_MULTIPROC_DIR and a scrape adds them up. That mode is chosen when
prometheus_client is first imported, so this module imports it only when a metric is first used:
a process's entry point (`taxiway serve`) sets the directory up first (:func:`use_own_directory`),
and the worker processes it spawns inherit it. Without the directory, each process keeps its own
values in memory and a scrape sees only the process that serves it.

What the database knows (tasks by status, the queue, credits, callbacks) is not observed here:
every server reads it at scrape time (tasks/metrics.py), so all of them report the same figures.
Observing never raises: a metric that cannot be written is not worth a failed task.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

from taxiway.core.scratch import sweep, working_dir

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The slot states the slot gauge counts; a slot is in exactly one.
SLOT_STATES = ("busy", "idle", "starting")

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WAIT_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0)
_RUN_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 14400.0)
_OUTPUT_BUCKETS = (1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0)
_FPS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 240.0)

# The directory this process holds (its lock), deleted when the server stops or the process exits.
_held = contextlib.ExitStack()


def use_own_directory(parent: Path) -> Path:
    """Make a new directory under ``parent`` this process's (and its future children's) metrics
    directory, held by this process while it lives; what servers that died left there goes.

    Call it before anything imports prometheus_client: the mode is chosen at that import.
    """
    for path in sweep(parent):
        log.info("removed %s, the metrics of a server that died", path)
    if "prometheus_client" in sys.modules:
        log.warning(
            "prometheus_client was imported before the metrics directory was set: /metrics will "
            "show this process's metrics only, not its worker processes'"
        )
    path = _held.enter_context(working_dir(parent, f"server-{os.getpid()}-"))
    atexit.register(release_own_directory)  # a server killed outright leaves it to the next one's sweep
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def release_own_directory() -> None:
    """Delete the directory :func:`use_own_directory` made (once this process's workers are gone)."""
    _held.close()


def multiprocess_directory() -> str | None:
    """The directory every process of this server writes its metrics to; None when this process
    keeps them in memory (no directory was set when prometheus_client was imported)."""
    from prometheus_client import values

    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get(MULTIPROC_ENV)


class _Metrics:
    """The process metrics, made once per process on first use (prometheus_client registers each
    name once)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.http_requests = Counter(
            "taxiway_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
        )
        self.http_duration = Histogram(
            "taxiway_http_request_duration_seconds",
            "Time from a request's arrival to the start of its response (a stream's length is not in it).",
            ("method", "route"),
            buckets=_HTTP_BUCKETS,
        )
        self.queue_wait = Histogram(
            "taxiway_queue_wait_seconds",
            "Time from a task's creation to its first claim, by kind of work (classic or neural).",
            ("work",),
            buckets=_WAIT_BUCKETS,
        )
        self.run_time = Histogram(
            "taxiway_task_run_seconds",
            "Time from a task's first start to its end, for tasks that SUCCEEDED or FAILED.",
            ("operation", "engine", "status"),
            buckets=_RUN_BUCKETS,
        )
        self.output_seconds = Histogram(
            "taxiway_task_output_seconds",
            "Seconds of video in each SUCCEEDED task's output.",
            ("operation", "engine"),
            buckets=_OUTPUT_BUCKETS,
        )
        self.engine_frames = Counter(
            "taxiway_engine_frames",
            "Output frames engines produced, counted in the worker processes.",
            ("engine",),
        )
        self.engine_fps = Histogram(
            "taxiway_engine_frames_per_second",
            "Each successful attempt's output frames over the time its engine ran, in the worker processes.",
            ("engine",),
            buckets=_FPS_BUCKETS,
        )
        self.slots = Gauge(
            "taxiway_worker_slots",
            "This server's worker slots, by kind and state (busy, idle, starting).",
            ("kind", "state"),
            multiprocess_mode="livesum",
        )
        self.collector_errors = Counter(
            "taxiway_metrics_collector_errors",
            "Scrapes that served no figures from a collector (the database's) because it failed or was slow.",
            ("collector",),
        )


@functools.cache
def _metrics() -> _Metrics:
    return _Metrics()


P = ParamSpec("P")


def _observation(function: Callable[P, None]) -> Callable[P, None]:
    """Never raise from an observation: log the first failure of each kind, then carry on."""
    warned = False

    @functools.wraps(function)
    def observe(*args: P.args, **kwargs: P.kwargs) -> None:
        nonlocal warned
        try:
            function(*args, **kwargs)
        except Exception:
            if not warned:
                warned = True
                log.exception("metric %s could not be recorded; carrying on", function.__name__)

    return observe


@_observation
def http_request(method: str, route: str, status: int, seconds: float) -> None:
    metrics = _metrics()
    metrics.http_requests.labels(method, route, str(status)).inc()
    metrics.http_duration.labels(method, route).observe(seconds)


@_observation
def queue_wait(work: str, seconds: float) -> None:
    _metrics().queue_wait.labels(work).observe(max(seconds, 0.0))


@_observation
def task_finished(
    operation: str, engine: str, status: str, run_seconds: float, output_seconds: float | None
) -> None:
    metrics = _metrics()
    metrics.run_time.labels(operation, engine, status).observe(max(run_seconds, 0.0))
    if output_seconds is not None:
        metrics.output_seconds.labels(operation, engine).observe(output_seconds)


@_observation
def engine_ran(engine: str, frames: int, seconds: float) -> None:
    metrics = _metrics()
    metrics.engine_frames.labels(engine).inc(frames)
    if seconds > 0:
        metrics.engine_fps.labels(engine).observe(frames / seconds)


@_observation
def slot_moved(kind: str, before: str | None, after: str | None) -> None:
    """A worker slot went from state ``before`` to ``after`` (None: it did not exist / is gone)."""
    metrics = _metrics()
    if before is not None:
        metrics.slots.labels(kind, before).dec()
    if after is not None:
        metrics.slots.labels(kind, after).inc()


@_observation
def collector_failed(collector: str) -> None:
    _metrics().collector_errors.labels(collector).inc()


@_observation
def declare_collector(collector: str) -> None:
    """Show the collector's error count (0) before its first error."""
    _metrics().collector_errors.labels(collector)


@_observation
def declare_slot_kind(kind: str) -> None:
    """Show every state of a slot kind (at 0) as soon as the server has such slots."""
    for state in SLOT_STATES:
        _metrics().slots.labels(kind, state)


@_observation
def process_gone(pid: int) -> None:
    """A worker process of this server ended: its live gauges go (multiprocess mode only)."""
    if multiprocess_directory() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class _ThisProcess:
    """This process's own registry, as a collector of another registry."""

    def collect(self) -> Any:
        from prometheus_client import REGISTRY

        return REGISTRY.collect()


def process_collector() -> Any:
    """What a scrape of this server shows of its processes: every process's files added up in
    multiprocess mode, else this process's own metrics."""
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = multiprocess_directory()
    return _ThisProcess() if directory is None else MultiProcessCollector(None, path=directory)
