"""What the client does, without I/O: retries, 429 waits, polling with backoff and downloads
(following a task's event stream is in following.py).

Each flow is a generator of effects (see effects.py); the sync and async clients drive the same flows,
so both behave identically."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydantic

from taxiway.client.effects import Download, Flow, Notify, Request, Sleep, T
from taxiway.client.errors import ApiError, Busy, ConnectionFailed, TaxiwayError, error_from_response
from taxiway.client.models import Task


@dataclass(frozen=True)
class Policy:
    """How patient the client is. The defaults suit long video tasks on a busy server."""

    max_retries: int = 3  # per call, for connection errors and 5xx answers
    backoff_seconds: float = 0.5  # first retry delay; doubles, with jitter
    max_backoff_seconds: float = 8.0
    # 429 (account busy): the contract advises waiting 10…30 s and retrying; give up after busy_timeout.
    busy_timeout_seconds: float = 600.0
    busy_interval_seconds: float = 10.0
    max_busy_interval_seconds: float = 30.0
    # wait(): first poll interval, stretched while nothing changes up to the maximum.
    poll_interval_seconds: float = 1.0
    max_poll_interval_seconds: float = 10.0
    # An event stream that sends nothing this long (taxiway's heartbeat comes every 15 s) is taken
    # for a dead connection and opened again where it stopped.
    stream_idle_timeout_seconds: float = 60.0

    def backoff(self, failures: int, retry_after: float | None = None) -> float:
        delay = min(self.max_backoff_seconds, self.backoff_seconds * 2**failures)
        delay *= random.uniform(0.8, 1.2)  # keeps many clients from retrying in lockstep
        return max(delay, retry_after or 0.0)

    def busy_delay(self, waits: int, retry_after: float | None = None) -> float:
        delay = min(self.max_busy_interval_seconds, self.busy_interval_seconds * 1.5**waits)
        return max(delay * random.uniform(1.0, 1.2), retry_after or 0.0)


@dataclass(frozen=True)
class BusyWait:
    """Told to `on_busy` before each wait on a 429."""

    error: Busy
    delay_seconds: float


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for APIs; the policy's own delay applies


def _describe(request: Request) -> str:
    return f"{request.method} {request.path}"


def call(
    request: Request, policy: Policy, on_busy: Callable[[BusyWait], Any] | None = None
) -> Flow[httpx.Response]:
    """Send one request: retry what is safe to retry, wait out 429s, raise typed errors."""
    failures = 0
    busy_waits = 0
    busy_since: float | None = None
    replayable = request.upload is None or request.upload.replayable
    while True:
        try:
            response = yield request
        except httpx.TransportError as exc:
            # A request that never reached the server is safe to resend; a POST that may have
            # arrived is not (it could create the task twice), nor is a stream already read.
            never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            if failures >= policy.max_retries or not (never_sent or (request.safe_to_repeat and replayable)):
                raise ConnectionFailed(f"{_describe(request)} failed: {exc or type(exc).__name__}") from exc
            yield Sleep(policy.backoff(failures))
            failures += 1
            continue
        status = response.status_code
        if status == 429 and replayable:
            error = error_from_response(response)
            now = time.monotonic()
            busy_since = now if busy_since is None else busy_since
            delay = policy.busy_delay(busy_waits, _retry_after(response))
            if now - busy_since + delay > policy.busy_timeout_seconds:
                raise error
            if on_busy is not None:
                yield Notify(on_busy, BusyWait(error, delay))
            yield Sleep(delay)
            busy_waits += 1
            continue
        retryable = request.safe_to_repeat or status == 503  # 503: the server did not take it on
        if status >= 500 and retryable and replayable and failures < policy.max_retries:
            yield Sleep(policy.backoff(failures, _retry_after(response)))
            failures += 1
            continue
        if response.is_error:
            raise error_from_response(response)
        return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ApiError(
            f"the server answered {response.status_code} with a body that is not JSON",
            response.status_code,
            {},
        ) from None


def fetch(
    request: Request,
    policy: Policy,
    parse: Callable[[Any], T],
    on_busy: Callable[[BusyWait], Any] | None = None,
) -> Flow[T]:
    """Call and turn the JSON answer into a model."""
    response = yield from call(request, policy, on_busy)
    try:
        return parse(_json(response))
    except pydantic.ValidationError as exc:  # the models take any object; this is not one
        raise ApiError(
            f"{_describe(request)}: the server answered {response.status_code} with JSON of another shape "
            f"({exc.errors()[0]['msg']})",
            response.status_code,
            {},
        ) from None


def discard(request: Request, policy: Policy) -> Flow[None]:
    """Call an endpoint whose answer carries nothing (204)."""
    yield from call(request, policy)


def delete_task(request: Request, policy: Policy) -> Flow[Task | None]:
    """DELETE tasks/{id}: the cancelled task when it was live (200), None when deleted (204)."""
    response = yield from call(request, policy)
    return Task.from_json(_json(response)) if response.status_code == 200 and response.content else None


class PollSchedule:
    """When to look again: stretch the interval while nothing changes, wait out a queue estimate,
    and come back sooner when a running task's progress says it is about to finish."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.interval = policy.poll_interval_seconds
        self._last: tuple[str, float, str | None] | None = None
        self.clock = RunClock()

    def next_delay(self, task: Task, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        state = (task.status, round(task.progress_ratio, 4), task.progress_text)
        if state == self._last:
            self.interval = min(self.interval * 1.5, self.policy.max_poll_interval_seconds)
        self._last = state
        delay = self.interval
        if task.status in ("PENDING", "THROTTLED") and task.estimated_time_to_start:
            delay = max(delay, min(task.estimated_time_to_start, self.policy.max_poll_interval_seconds))
        remaining = self.clock.observe(task, now)
        if remaining is not None:
            delay = min(delay, max(self.policy.poll_interval_seconds, remaining))
        return delay


class RunClock:
    """Estimates a running task's remaining seconds from its progress since it started running."""

    def __init__(self) -> None:
        self._start: tuple[float, float] | None = None  # (monotonic time, ratio) when first seen running

    def observe(self, task: Task, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        if task.status != "RUNNING":
            self._start = None
            return None
        if self._start is None:
            self._start = (now, task.progress_ratio)
            return None
        started_at, started_ratio = self._start
        done = task.progress_ratio - started_ratio
        if done <= 0.01 or now <= started_at:
            return None
        return (now - started_at) * (1.0 - task.progress_ratio) / done


def download(
    known: Task | None, read: Callable[[], Flow[Task]], target: Path, policy: Policy, *, index: int
) -> Flow[Path]:
    """Stream an artifact of a finished task to `target` (a directory takes the artifact's filename).
    A `known` state with artifacts is used as it is; else, and when its link has expired, `read` it."""
    current = known if known is not None and known.artifacts else None
    refreshed = False
    failures = 0
    while True:
        if current is None:
            current = yield from read()
        if current.status != "SUCCEEDED" or not current.artifacts:
            raise TaxiwayError(f"task {current.task_id} has no artifact to download (it is {current.status})")
        if not 0 <= index < len(current.artifacts):
            raise TaxiwayError(
                f"task {current.task_id} has {len(current.artifacts)} artifact(s); no index {index}"
            )
        artifact = current.artifacts[index]
        if not artifact.url:
            raise TaxiwayError(f"artifact {artifact.asset_id} has no download link")
        filename = Path(artifact.filename or f"{current.task_id.rsplit(':', 1)[-1]}.mp4").name
        path = target / filename if target.is_dir() else target
        try:
            yield Download(artifact.url, path)
            return path
        except ApiError as exc:
            # A signed link can expire while a task sits finished; one fresh read signs a new one.
            if exc.status not in (401, 403) or refreshed:
                raise
            refreshed, current = True, None
        except httpx.TransportError as exc:
            if failures >= policy.max_retries:
                raise ConnectionFailed(
                    f"downloading {artifact.filename or artifact.asset_id} failed: {exc}"
                ) from exc
            yield Sleep(policy.backoff(failures))
            failures += 1
