"""Extension: which engines this server offers for each operation, whether each can run, and where.

Everything is judged from settings and the file system; no model library is imported into the API
process (the device comes from :mod:`taxiway.engines.devices`, which asks a child process).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from taxiway.api.deps import Ctx, CurrentUser
from taxiway.api.openapi import component, errors, ok
from taxiway.core.json_schema import BOOLEAN, OBJECT, STRING, array, closed, described, enum, nullable
from taxiway.core.model_config import OPERATIONS
from taxiway.core.settings import Settings
from taxiway.engines import catalog
from taxiway.engines.catalog import EngineChoice

router = APIRouter(tags=["engines"])

# Fields of a model's configuration that the listing shows elsewhere (or not at all).
_NOT_SETTINGS = {"engine", "path", "operations"}


_ENGINE = closed(
    {
        "model": described(STRING, "What a request's model field takes."),
        "engine": STRING,
        "kind": STRING,
        "default": described(BOOLEAN, "Whether requests without model get this one."),
        "status": enum((catalog.READY, catalog.MISSING_WEIGHTS, catalog.NOT_INSTALLED)),
        "problem": described(nullable(STRING), "Why it cannot run here; null when ready."),
        "path": nullable(STRING),
        "settings": OBJECT,
    }
)
ENGINES_SCHEMA = closed(
    {
        "device": closed(
            {"setting": STRING, "resolved": STRING, "gpu": nullable(STRING), "problem": nullable(STRING)}
        ),
        "operations": closed({operation: array(_ENGINE) for operation in OPERATIONS}),
    }
)


@router.get(
    "/engines",
    summary="Extension: the engines offered for each operation, whether each is ready, and the device.",
    response_model=None,
    responses=ok(component("Engines", ENGINES_SCHEMA)) | errors(401),
)
async def list_engines(ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    def listing() -> dict[str, Any]:  # the first call may wait seconds for the device probe
        operations = engine_listing(ctx.settings, neural_default=ctx.devices.neural_by_default())
        return {"device": ctx.devices.describe(), "operations": operations}

    return await run_in_threadpool(listing)


# Engines ---------------------------------------------------------------------------------------


def engine_listing(settings: Settings, *, neural_default: bool) -> dict[str, list[dict[str, Any]]]:
    """Every operation's engines in the order requests get them: the default first."""
    listing: dict[str, list[dict[str, Any]]] = {}
    for operation in OPERATIONS:
        choices = catalog.offered(operation, settings, neural_default=neural_default)
        listing[operation] = [_engine_json(each, default=index == 0) for index, each in enumerate(choices)]
    return listing


def _engine_json(choice: EngineChoice, *, default: bool) -> dict[str, Any]:
    status, problem = catalog.readiness(choice)
    config = choice.config
    return {
        "model": choice.model,
        "engine": choice.engine,
        "kind": config.engine if config is not None else catalog.CLASSIC,
        "default": default,
        "status": status,
        "problem": problem,
        "path": str(choice.path) if choice.path is not None else None,
        "settings": config.model_dump(mode="json", exclude=_NOT_SETTINGS) if config is not None else {},
    }
