"""The OpenAPI document: what each route declares, in the contract's terms.

FastAPI writes the document from the routes; routes declare their query parameters and bodies
from the same field specs that validate them, and their responses with the helpers here. What
FastAPI adds on its own and this API never sends (422 validation errors) is taken out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from taxiway.core.errors import RETRY_AFTER_SECONDS
from taxiway.core.fields import FieldSpec, object_schema
from taxiway.core.json_schema import INTEGER, NUMBER, STRING, Schema, array, described
from taxiway.tasks.presenter import RUNNING_TASK_SCHEMA

Responses = dict[int | str, dict[str, Any]]

_COMPONENTS: dict[str, Schema] = {}


def component(name: str, schema: Schema) -> Schema:
    """A reference to `schema`, which the document holds once, under `name`."""
    known = _COMPONENTS.setdefault(name, schema)
    assert known is schema, f"two different schemas are named {name}"
    return {"$ref": f"#/components/schemas/{name}"}


ERROR = component(
    "Error",
    {
        "type": "object",
        "properties": {
            "error": described(STRING, "Which field or parameter, what was wrong, what is allowed."),
            "code": described(INTEGER, "The HTTP status again."),
        },
        "required": ["error", "code"],
    },
)
_BUSY = component(
    "AccountBusy",
    {
        "allOf": [ERROR],
        "properties": {
            "runningTasks": described(
                {
                    "type": "object",
                    "additionalProperties": array(component("RunningTask", RUNNING_TASK_SCHEMA)),
                },
                "The account's live tasks, under its email.",
            )
        },
        "required": ["runningTasks"],
    },
)
_CREDITS = component(
    "InsufficientCredits",
    {
        "allOf": [ERROR],
        "properties": {"creditsRequired": INTEGER, "creditsAvailable": INTEGER, "email": STRING},
    },
)
_QUOTA = component(
    "StorageQuotaExceeded",
    {
        "allOf": [ERROR],
        "properties": {"storageUsedGB": NUMBER, "storageGB": NUMBER},
        "required": ["storageUsedGB", "storageGB"],
    },
)

# What each status means, wherever it is sent; a route may say more about its own.
_MEANINGS = {
    400: "A parameter or field is missing, malformed or out of range; the message names it and what is "
    "allowed.",
    401: "Missing or unknown API token.",
    403: "The signed link is invalid or has expired.",
    404: "Not found (or not yours).",
    409: "Refused while a live task needs it.",
    412: "Not enough credits, or exploreMode without the unlimited plan.",
    413: "The file would take the account over its storage quota.",
    429: "The account already runs maxJobs tasks; runningTasks lists them. Retry after Retry-After seconds.",
    503: "The database is unreachable.",
    507: "A disk of the server is full, or under its free-space floor (TAXIWAY_MIN_FREE_DISK_MB); the "
    "message says which store.",
}
_SCHEMAS = {412: _CREDITS, 413: _QUOTA, 429: _BUSY}


def ok(
    schema: Schema | None = None,
    *,
    status: int = 200,
    description: str = "OK",
    media_types: tuple[str, ...] = ("application/json",),
) -> Responses:
    """A success response (`schema` None: without a body)."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {media: {"schema": schema} for media in media_types}
    return {status: response}


def errors(*statuses: int, meaning: Mapping[int, str] | None = None) -> Responses:
    """These error statuses, each with the contract's {"error": ..., "code": N} body."""
    responses: Responses = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": (meaning or {}).get(status, _MEANINGS[status]),
            "content": {"application/json": {"schema": _SCHEMAS.get(status, ERROR)}},
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": INTEGER | {"enum": [RETRY_AFTER_SECONDS]},
                }
            }
        responses[status] = response
    return responses


def fields_body(specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """The request body of a route that reads `specs` with read_body and validate_fields: JSON (where
    null means "not given") or a form, as the contract allows."""
    form = {"schema": object_schema(specs)}
    return {
        "required": True,
        "content": {
            "application/json": {"schema": object_schema(specs, nullable=True)},
            "multipart/form-data": form,
            "application/x-www-form-urlencoded": form,
        },
    }


def install_openapi(app: FastAPI) -> None:
    """Serve FastAPI's document with the components the routes name, and without what this API
    never sends."""
    generate = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = generate()  # FastAPI's, cached on the app: finished in place, once
            for operations in doc["paths"].values():
                for operation in operations.values():
                    # FastAPI declares 422 for its own validation errors; ours answer 400.
                    operation.get("responses", {}).pop("422", None)
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            schemas.update(_COMPONENTS)
        return app.openapi_schema or {}

    app.openapi = document  # type: ignore[method-assign]
