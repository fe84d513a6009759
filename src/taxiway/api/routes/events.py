"""Event streams (Server-Sent Events) of task changes, and the signed links a browser opens them with.

An extension: each event's data is the task JSON exactly as GET tasks/{taskId} answers it, sent on
every change of its status, progress, estimate or queue position (coalesced, see tasks/feed.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from taxiway.accounts.service import get_account
from taxiway.api.deps import Ctx, CurrentUser, RequestLinks, StreamUser, TaskRef, read_body, read_query
from taxiway.api.openapi import component, errors, fields_body, ok
from taxiway.core import ids
from taxiway.core.errors import BadRequest, NotFound
from taxiway.core.fields import FieldSpec, query_parameters, validate_fields
from taxiway.core.json_schema import STRING, TIMESTAMP, closed, described
from taxiway.core.timestamps import iso
from taxiway.store.changes import ChangeKey
from taxiway.tasks import service
from taxiway.tasks.feed import ChangeFeed
from taxiway.tasks.streams import StreamEvent, TaskEventId, TaskStream, UserStream

router = APIRouter(tags=["events"])

_LINK_FIELDS = (
    FieldSpec("user", "string", "With a signed link instead of the token: the user it was signed for."),
    FieldSpec("expires", "string", "With a signed link: when it expires (Unix seconds)."),
)
_RESUME = FieldSpec(
    "lastEventId",
    "string",
    "Resume after this event id, as the Last-Event-ID header does (which wins when both are given): "
    "for a new EventSource on a fresh link, which cannot send the header.",
)
TASK_STREAM_FIELDS = (*_LINK_FIELDS, _RESUME)
USER_STREAM_FIELDS = (FieldSpec("email", "string", "Only this account's tasks."), *_LINK_FIELDS, _RESUME)
LINK_FIELDS = (
    FieldSpec(
        "taskId",
        "string",
        "A link to this task's stream (GET tasks/{taskId}/events); without it, to all your tasks' "
        "(GET events).",
        pattern=ids.ref_pattern("task"),
        pattern_hint=ids.ref_hint("task"),
    ),
    FieldSpec(
        "email",
        "string",
        "The all-tasks stream of this account only; with taskId, the account the task must be of.",
    ),
)
STREAM_LINK_SCHEMA = closed(
    {
        "url": described(STRING, "Open it with an EventSource: it needs no token until it expires."),
        "expiresAt": described(TIMESTAMP, "After this the link opens no stream (an open one goes on)."),
    }
)

_LAST_EVENT_ID = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "The id of the last event received: the stream resumes after it, without repeats.",
    "schema": {"type": "string"},
}
_EVENTS = {"type": "string", "description": "text/event-stream"}
_FORMAT = (
    "Server-Sent Events, until the client goes away (the one-task stream ends after the task's final "
    "state). Each event: `id:` (see README: resumable with Last-Event-ID) and `data:` the Task JSON, as "
    "GET tasks/{taskId} answers it. `: ping` comment lines come while nothing happens."
)
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering either


def _stream_doc(fields: tuple[FieldSpec, ...], not_found: str, finished: bool = False) -> dict[str, Any]:
    done = (
        ok(status=204, description="The task has finished and the Last-Event-ID is its final state's.")
        if finished
        else {}
    )
    return {
        "responses": ok(_EVENTS, description=_FORMAT, media_types=("text/event-stream",))
        | done
        | errors(
            400,
            401,
            403,
            404,
            meaning={403: "The signed stream link is invalid or has expired.", 404: not_found},
        ),
        "openapi_extra": {"parameters": [*query_parameters(fields), _LAST_EVENT_ID]},
        "response_class": StreamingResponse,
    }


class EventStreamResponse(StreamingResponse):
    """An open stream as text/event-stream; its subscription ends with the response, however it ends."""

    def __init__(self, stream: TaskStream | UserStream, heartbeat_seconds: float) -> None:
        super().__init__(_lines(stream, heartbeat_seconds), media_type="text/event-stream", headers=_HEADERS)
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stream.close()


async def _lines(stream: TaskStream | UserStream, heartbeat_seconds: float) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"  # how long an EventSource waits before reconnecting (it resends the last id)
    async for event in stream.events(heartbeat_seconds):
        yield _frame(event)


def _frame(event: StreamEvent | None) -> str:
    if event is None:
        return ": ping\n\n"
    # As JSONResponse writes it: one line (JSON escapes line breaks), so one data field.
    data = json.dumps(event.data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (f"id: {event.id}\n" if event.id is not None else "") + f"data: {data}\n\n"


def _last_event_id(request: Request, query: dict[str, Any]) -> str | None:
    value = request.headers.get("last-event-id") or query.get("lastEventId")
    return value if value and value.strip() else None


def _feed(request: Request) -> ChangeFeed:
    return request.app.state.feed


@router.get(
    "/tasks/{task_id}/events",
    summary="Follow one task: an event with the task JSON on every change, until it finishes (SSE).",
    **_stream_doc(TASK_STREAM_FIELDS, "No such task (or not yours).", finished=True),
)
async def task_events(
    task_id: TaskRef, request: Request, ctx: Ctx, user: StreamUser, links: RequestLinks
) -> Response:
    query = read_query(request, TASK_STREAM_FIELDS)
    last = _last_event_id(request, query)
    resume = TaskEventId.parse(last) if last is not None else None
    if last is not None and resume is None:
        raise BadRequest(
            f"Last-Event-ID {last[:60]!r} is not an id of a task's stream: they are versions, like 7, "
            "or a version and a queue position, like 7.2"
        )

    def owned() -> str:
        with ctx.db.read() as session:
            return service.get_owned_task(session, user, task_id).id

    row_id = await run_in_threadpool(owned)
    stream = await TaskStream.open(_feed(request), user, row_id, links.base_url, resume)
    if stream.finished:
        stream.close()
        return Response(status_code=204)
    return EventStreamResponse(stream, ctx.settings.event_heartbeat_seconds)


@router.get(
    "/events",
    summary="Follow all your tasks (or one account's): an event with a task's JSON on each change (SSE).",
    **_stream_doc(USER_STREAM_FIELDS, "The account email names does not exist."),
)
async def user_events(request: Request, ctx: Ctx, user: StreamUser, links: RequestLinks) -> Response:
    query = read_query(request, USER_STREAM_FIELDS)
    last = _last_event_id(request, query)
    since = ChangeKey.parse(last) if last is not None else None
    if last is not None and since is None:
        raise BadRequest(
            f"Last-Event-ID {last[:60]!r} is not an id of the all-tasks stream: they look like "
            "<number>-<task uuid>"
        )
    email = query["email"]

    def account_id() -> int | None:
        if not email:
            return None
        with ctx.db.read() as session:
            return get_account(session, user, email).id

    account = await run_in_threadpool(account_id)
    stream = await UserStream.open(_feed(request), user, account, links.base_url, since)
    return EventStreamResponse(stream, ctx.settings.event_heartbeat_seconds)


@router.post(
    "/events/links",
    summary="A short-lived signed link to an event stream, for an EventSource (which sends no token).",
    response_model=None,
    responses=ok(component("StreamLink", STREAM_LINK_SCHEMA))
    | errors(400, 401, 404, meaning={404: "No such task (or not yours), or no such account."}),
    openapi_extra={"requestBody": fields_body(LINK_FIELDS) | {"required": False}},
)
async def stream_link(request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks) -> dict[str, Any]:
    body = validate_fields(LINK_FIELDS, await read_body(request))
    task_ref, email = body["taskId"], body["email"]

    def check() -> tuple[str, str] | None:
        with ctx.db.read() as session:
            account = get_account(session, user, email) if email else None
            if not task_ref:
                return None
            task = service.get_owned_task(session, user, task_ref)
            if account is not None and task.account_id != account.id:
                raise NotFound(f"Unable to retrieve taskId {task_ref} (Not found.) in account {email}")
            return task_ref.strip(), task.id

    task = await run_in_threadpool(check)
    seconds = ctx.settings.event_link_ttl_seconds
    url, expires = links.event_stream(user, seconds, task=task, email=None if task else email)
    return {"url": url, "expiresAt": iso(datetime.fromtimestamp(expires, UTC))}
