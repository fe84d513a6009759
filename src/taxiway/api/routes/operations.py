"""The operation endpoints (upscale, video to video, expand, extend): one route per contract path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from taxiway.api.deps import Ctx, CurrentUser, RequestLinks, read_body
from taxiway.core.disk import check_floor
from taxiway.core.fields import object_schema
from taxiway.tasks.admission import admit_task
from taxiway.tasks.operations import OPERATIONS, Operation
from taxiway.tasks.presenter import load_view, task_json

router = APIRouter(tags=["operations"])

_ERRORS = {
    400: {"description": "A field is missing, malformed or out of range; the message names it."},
    401: {"description": "Missing or unknown API token."},
    404: {"description": "An input asset does not exist (or is not yours)."},
    412: {"description": "Not enough credits, or exploreMode without the unlimited plan."},
    429: {"description": "The account already runs maxJobs tasks; runningTasks lists them."},
    507: {"description": "The server's disk is under its free-space floor (TAXIWAY_MIN_FREE_DISK_MB)."},
}


def _add_operation(op: Operation) -> None:
    async def create_task(
        request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks
    ) -> dict[str, Any]:
        body = await read_body(request)

        def admit() -> dict[str, Any]:
            check_floor(ctx.settings)  # a task must not start on a disk that is about to fill
            task = admit_task(ctx, user, op, body)
            with ctx.db.read() as session:
                return task_json(load_view(session, task), links)

        return await run_in_threadpool(admit)

    router.add_api_route(
        f"/{op.path}",
        create_task,
        methods=["POST"],
        summary=op.summary,
        name=op.path,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": object_schema(op.all_fields)},
                    "multipart/form-data": {"schema": object_schema(op.all_fields)},
                },
            }
        },
    )


for _op in OPERATIONS.values():
    _add_operation(_op)
