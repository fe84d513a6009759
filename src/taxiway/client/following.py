"""Following tasks as they change: the server's event stream where it offers one (taxiway's
GET tasks/{taskId}/events and GET events), polling where it does not (the hosted API). Written
once, without I/O, like flows.py.

A stream is reconnected where it stopped (Last-Event-ID) when the connection drops, when it is
silent for longer than heartbeats allow, or when the server ends it early (it is stopping); a
server that answers the stream's path with 404, 405, 406 or 501, or with something that is not an
event stream, has none, and the task is polled instead (a task that is not there then answers
NotFound as it would anyway).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from taxiway.client.effects import (
    KEEPALIVE,
    CloseStream,
    Effect,
    Emit,
    EventStream,
    Flow,
    NextEvent,
    Notify,
    OpenStream,
    Request,
    Sleep,
)
from taxiway.client.errors import (
    ApiError,
    ConnectionFailed,
    TaskCancelled,
    TaskFailed,
    TaxiwayError,
    Timeout,
    error_from_response,
)
from taxiway.client.flows import Policy, PollSchedule
from taxiway.client.models import FINISHED_STATUSES, Task
from taxiway.client.sse import ServerEvent

EVENT_STREAM = "text/event-stream"
NO_STREAM_STATUSES = frozenset({404, 405, 406, 501})

Announce = Callable[[Task], Effect | None]


def finished(task: Task) -> bool:
    return task.status in FINISHED_STATUSES


def _never(_task: Task) -> bool:
    return False


def _is_stream(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == EVENT_STREAM


def _task(event: ServerEvent, request: Request) -> Task:
    try:
        return Task.from_json(json.loads(event.data))
    except ValueError:  # pydantic's ValidationError is a ValueError too
        raise ApiError(
            f"GET {request.path}: an event that is not a task: {event.data[:100]!r}", 200, {}
        ) from None


def _retry(failures: int, policy: Policy, request: Request, why: str) -> Flow[int]:
    """Wait before reconnecting; ConnectionFailed once the policy's retries are spent."""
    if failures >= policy.max_retries:
        raise ConnectionFailed(f"GET {request.path} failed: {why}")
    yield Sleep(policy.backoff(failures))
    return failures + 1


def stream(
    request: Request,
    policy: Policy,
    *,
    deadline: float | None,
    announce: Announce,
    until: Callable[[Task], bool],
) -> Flow[Task | None]:
    """Follow the event stream at ``request``, announcing each task it sends, to the first one
    ``until`` accepts (returned). None when the server offers no such stream, says there is nothing
    more to send (204), or when ``deadline`` (time.monotonic) passes: the caller polls then."""
    last_id: str | None = None
    failures = 0
    while True:
        idle = policy.stream_idle_timeout_seconds
        if deadline is not None:
            idle = min(idle, deadline - time.monotonic())
            if idle <= 0:
                return None
        try:
            opened: EventStream = yield OpenStream(request, last_id, idle)
        except httpx.TransportError as exc:
            failures = yield from _retry(failures, policy, request, str(exc) or type(exc).__name__)
            continue
        response = opened.response
        status = response.status_code
        if status == 204 or status in NO_STREAM_STATUSES or (status < 400 and not _is_stream(response)):
            yield CloseStream(opened)
            return None
        if status >= 500:
            yield CloseStream(opened)
            failures = yield from _retry(failures, policy, request, f"the server answered {status}")
            continue
        if response.is_error:
            raise error_from_response(response)
        try:
            while (event := (yield NextEvent(opened))) is not None:
                if event is KEEPALIVE:
                    if deadline is not None and time.monotonic() >= deadline:
                        yield CloseStream(opened)
                        return None
                    continue
                task = _task(event, request)
                last_id, failures = opened.parser.last_id, 0
                effect = announce(task)
                if effect is not None:
                    yield effect
                if until(task):
                    yield CloseStream(opened)
                    return task
        except httpx.TransportError as exc:  # dropped, or silent past heartbeats and the idle limit
            yield CloseStream(opened)
            if deadline is not None and time.monotonic() >= deadline:
                return None
            failures = yield from _retry(failures, policy, request, str(exc) or type(exc).__name__)
            continue
        yield CloseStream(opened)  # ended early by the server (it is stopping): come back
        yield Sleep((opened.parser.retry_ms or 1000) / 1000)


def _shown(task: Task) -> tuple[Any, ...]:
    return (
        task.status,
        task.progress_ratio,
        task.progress_text,
        task.estimated_time_to_start,
        task.queue_position,
        task.updated_at,
        len(task.artifacts),
    )


def poll(
    read: Callable[[], Flow[Task]],
    policy: Policy,
    *,
    timeout: float | None,
    deadline: float | None,
    announce: Announce,
    changes_only: bool = False,
) -> Flow[Task]:
    """Read the task until it finishes (announcing every read, or with ``changes_only`` the reads
    that differ from the one before); Timeout past ``deadline``."""
    schedule = PollSchedule(policy)
    shown: tuple[Any, ...] | None = None
    while True:
        current = yield from read()
        if not changes_only or _shown(current) != shown:
            shown = _shown(current)
            effect = announce(current)
            if effect is not None:
                yield effect
        if finished(current):
            return current
        delay = schedule.next_delay(current)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(
                    f"task {current.task_id} is still {current.status} after {timeout:g} s "
                    "(it goes on running; wait again or cancel it)",
                    current,
                )
            delay = min(delay, remaining)
        yield Sleep(delay)


def wait(
    events: Request,
    read: Callable[[], Flow[Task]],
    policy: Policy,
    *,
    timeout: float | None,
    on_progress: Callable[[Task], Any] | None,
) -> Flow[Task]:
    """Follow the task to its end: its final state, or TaskFailed / TaskCancelled / Timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def announce(task: Task) -> Effect | None:
        return Notify(on_progress, task) if on_progress is not None else None

    final = yield from stream(events, policy, deadline=deadline, announce=announce, until=finished)
    if final is None:
        final = yield from poll(read, policy, timeout=timeout, deadline=deadline, announce=announce)
    if final.status == "FAILED":
        raise TaskFailed(f"task {final.task_id} failed: {final.error_message or 'no reason given'}", final)
    if final.status == "CANCELLED":
        raise TaskCancelled(f"task {final.task_id} was cancelled", final)
    return final


def task_events(events: Request, read: Callable[[], Flow[Task]], policy: Policy) -> Flow[None]:
    """Emit each state of one task as it changes, ending with its final state."""
    final = yield from stream(events, policy, deadline=None, announce=Emit, until=finished)
    if final is None:
        yield from poll(read, policy, timeout=None, deadline=None, announce=Emit, changes_only=True)


def all_events(events: Request, policy: Policy) -> Flow[None]:
    """Emit every task of the caller as it changes, for as long as the caller reads."""
    yield from stream(events, policy, deadline=None, announce=Emit, until=_never)
    raise TaxiwayError(
        f"this server offers no event stream of all tasks (GET {events.path}); poll list_tasks"
    )
