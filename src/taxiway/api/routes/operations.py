"""The operation endpoints (upscale, video to video, expand, extend): one route per contract path."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from taxiway.api.deps import Ctx, CurrentUser, RequestLinks, read_body
from taxiway.api.openapi import component, errors, fields_body, ok
from taxiway.api.responses import json_response
from taxiway.core.disk import check_floor
from taxiway.core.fields import FieldSpec
from taxiway.core.settings import Settings
from taxiway.engines import catalog
from taxiway.tasks.admission import admit_task
from taxiway.tasks.operations import OPERATIONS, Operation
from taxiway.tasks.presenter import TASK_SCHEMA, load_view, task_json

_RESPONSES = ok(component("Task", TASK_SCHEMA), description="The new task, PENDING.") | errors(
    400, 401, 404, 412, 429, 507, meaning={404: "An input asset, or the account email names, does not exist."}
)


def _documented_fields(op: Operation, settings: Settings) -> tuple[FieldSpec, ...]:
    """The fields as this server documents them: model lists the engines it offers. (Validation
    leaves model free, so that an unknown one gets the catalog's message naming what is offered.)"""
    models = tuple(choice.model for choice in catalog.offered(op.engine_operation, settings))
    return tuple(replace(spec, choices=models) if spec.name == "model" else spec for spec in op.all_fields)


def _add_operation(router: APIRouter, op: Operation, settings: Settings) -> None:
    async def create_task(request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks) -> Response:
        body = await read_body(request)

        def admit() -> dict[str, Any]:
            check_floor(ctx.settings)  # a task must not start on a disk that is about to fill
            task = admit_task(ctx, user, op, body)
            with ctx.db.read() as session:
                return task_json(load_view(session, task), links)

        return json_response(await run_in_threadpool(admit))

    router.add_api_route(
        f"/{op.path}",
        create_task,
        methods=["POST"],
        summary=op.summary,
        name=op.path,
        response_model=None,
        responses=_RESPONSES,
        openapi_extra={"requestBody": fields_body(_documented_fields(op, settings))},
    )


def router_for(settings: Settings) -> APIRouter:
    """The operation routes of one app: what its document says about model depends on its settings."""
    router = APIRouter(tags=["operations"])
    for op in OPERATIONS.values():
        _add_operation(router, op, settings)
    return router
