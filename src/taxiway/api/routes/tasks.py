"""Tasks and the scheduler view of live tasks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from taxiway.api.deps import Ctx, CurrentUser, RequestLinks, TaskRef, TokenCaller, read_query
from taxiway.api.openapi import component, errors, ok
from taxiway.api.responses import json_response
from taxiway.core.errors import NotFound
from taxiway.core.fields import FieldSpec, query_parameters
from taxiway.core.json_schema import array
from taxiway.store import states
from taxiway.store.live import live_tasks
from taxiway.tasks import service
from taxiway.tasks.presenter import (
    RUNNING_TASK_SCHEMA,
    TASK_SCHEMA,
    load_view,
    load_views,
    running_task_json,
    task_json,
)

router = APIRouter(tags=["tasks"])
TASK = component("Task", TASK_SCHEMA)

LIST_FIELDS = (
    FieldSpec("offset", "integer", "Tasks to skip.", default=0, minimum=0, maximum=1000),
    FieldSpec("limit", "integer", "Tasks to return.", default=20, minimum=1, maximum=1000),
    FieldSpec(
        "statuses",
        "string",
        "Comma-separated statuses to include.",
        choices=states.ALL_STATUSES,
        comma_separated=True,
    ),
    FieldSpec("email", "string", "Only this account's tasks."),
)


@router.get(
    "/tasks/",
    summary="List your tasks, newest first.",
    response_model=None,
    responses=ok(array(TASK))
    | errors(400, 401, 404, meaning={404: "The account email names does not exist."}),
    openapi_extra={"parameters": query_parameters(LIST_FIELDS)},
)
@router.get("/tasks", include_in_schema=False)
def list_tasks(request: Request, ctx: Ctx, caller: TokenCaller, links: RequestLinks) -> Response:
    with ctx.db.read() as session:
        user = caller.user(session)
        query = read_query(request, LIST_FIELDS)
        tasks = service.list_tasks(
            session,
            user,
            offset=query["offset"],
            limit=query["limit"],
            statuses=query["statuses"] or [],
            email=query["email"],
        )
        return json_response([task_json(view, links) for view in load_views(session, tasks)])


@router.get(
    "/tasks/{task_id}",
    summary="Get one task: status, progress and artifacts.",
    response_model=None,
    responses=ok(TASK) | errors(401, 404),
)
def get_task(task_id: TaskRef, ctx: Ctx, caller: TokenCaller, links: RequestLinks) -> Response:
    with ctx.db.read() as session:
        view = load_view(session, service.get_owned_task(session, caller.user(session), task_id))
        return json_response(task_json(view, links))


def _stop_locally(request: Request, task_id: str) -> None:
    """Fast path: if this process runs the task, stop it now rather than at the next tick."""
    executor = getattr(request.app.state, "executor", None)
    if executor is not None:
        executor.cancel(task_id)


@router.delete(
    "/tasks/{task_id}",
    summary="Cancel a live task (200, the task) or delete a finished one with its artifacts (204).",
    response_model=None,
    responses=ok(TASK, description="The task was live: it is CANCELLED now, its credits refunded.")
    | ok(status=204, description="The task had finished: it is deleted, with its artifacts.")
    | errors(401, 404, 409, meaning={409: "An artifact of the task is an input of a live task."}),
)
async def delete_task(
    task_id: TaskRef, request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks
) -> dict[str, Any] | Response:
    def act() -> dict[str, Any] | None:
        with ctx.db.read() as session:
            task = service.get_owned_task(session, user, task_id)
            live = task.status in states.LIVE_STATUSES
        if not live:
            service.delete_finished_task(ctx, user, task_id)
            return None
        cancelled = service.cancel_task(ctx, user, task_id)
        _stop_locally(request, cancelled.id)
        with ctx.db.read() as session:
            return task_json(load_view(session, cancelled), links)

    result = await run_in_threadpool(act)
    return Response(status_code=204) if result is None else result


@router.get(
    "/scheduler/",
    summary="Your live tasks (PENDING, THROTTLED, RUNNING).",
    response_model=None,
    responses=ok(array(component("RunningTask", RUNNING_TASK_SCHEMA))) | errors(401),
)
@router.get("/scheduler", include_in_schema=False)
def list_scheduler(ctx: Ctx, user: CurrentUser) -> list[dict[str, Any]]:
    with ctx.db.read() as session:
        return [running_task_json(task) for task in live_tasks(session, user_id=user)]


@router.delete(
    "/scheduler/{task_id}",
    status_code=204,
    summary="Cancel a live task.",
    responses=ok(status=204, description="Cancelled; its credits are refunded.")
    | errors(401, 404, meaning={404: "No such task (or not yours), or it is not live."}),
)
def cancel_scheduled(task_id: TaskRef, request: Request, ctx: Ctx, user: CurrentUser) -> Response:
    with ctx.db.read() as session:
        task = service.get_owned_task(session, user, task_id)
        if task.status not in states.LIVE_STATUSES:
            raise NotFound(f"Task {task_id} is not scheduled: it is {task.status}")
    cancelled = service.cancel_task(ctx, user, task_id)
    _stop_locally(request, cancelled.id)
    return Response(status_code=204)
