"""Extensions beyond the contract: health and the caller's callback signing secret."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from taxiway import __version__
from taxiway.api.deps import Ctx, CurrentUser
from taxiway.api.openapi import component, errors, ok
from taxiway.core.disk import disk_report
from taxiway.core.json_schema import BOOLEAN, INTEGER, STRING, array, closed, described, enum
from taxiway.store.models import User

router = APIRouter(tags=["system"])

_HEALTH = component(
    "Health",
    closed(
        {
            "status": enum(("ok", "degraded")),
            "version": STRING,
            "database": described(STRING, '"ok", or "unreachable: <why>".'),
            "executor": STRING,
            "disk": closed(
                {
                    "floorMB": described(INTEGER, "TAXIWAY_MIN_FREE_DISK_MB."),
                    "stores": array(
                        closed(
                            {
                                "store": enum(("scratch space", "file storage", "database")),
                                "freeMB": INTEGER,
                                "underFloor": BOOLEAN,
                            }
                        )
                    ),
                }
            ),
            "workers": closed({"slots": INTEGER, "idle": INTEGER}),
        }
    ),
)


@router.get(
    "/health",
    summary="Liveness, database reachability, free disk space and worker slots.",
    response_model=None,
    responses=ok(_HEALTH) | ok(_HEALTH, status=503, description="The database is unreachable."),
)
def health(request: Request, ctx: Ctx) -> JSONResponse:
    try:
        with ctx.db.read() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"unreachable: {type(exc).__name__}"
    executor = getattr(request.app.state, "executor", None)
    disk = disk_report(ctx.settings)
    # Under the floor the server still serves what it has (200) but refuses uploads and new tasks.
    under_floor = any(store["underFloor"] for store in disk["stores"])
    body: dict[str, Any] = {
        "status": "ok" if database == "ok" and not under_floor else "degraded",
        "version": __version__,
        "database": database,
        "disk": disk,
        "executor": ctx.settings.executor,
        "workers": {
            "slots": executor.size if executor else 0,
            "idle": len(executor.idle_slots()) if executor else 0,
        },
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


@router.get(
    "/v1/runwayml/webhooks/secret",
    summary="Your secret for verifying signed callbacks.",
    response_model=None,
    responses=ok(component("WebhookSecret", closed({"secret": STRING}))) | errors(401),
)
def webhook_secret(ctx: Ctx, user: CurrentUser) -> dict[str, str]:
    with ctx.db.read() as session:
        found = session.get(User, user)
        return {"secret": found.webhook_secret if found else ""}
