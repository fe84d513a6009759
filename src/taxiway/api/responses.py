"""JSON answers that skip FastAPI's ``jsonable_encoder``.

A route that returns a dict has it walked by ``jsonable_encoder`` (every key and value, for types
JSON lacks) before it is serialised: for a task, a fifth of the event loop's time per request.
What our presenters build is plain JSON already (strings, numbers, booleans, None, lists, dicts),
so the hot routes hand it to JSONResponse, which writes it as FastAPI would have.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def json_response(content: dict[str, Any] | list[Any]) -> JSONResponse:
    """``content`` (plain JSON types only) as the response body."""
    return JSONResponse(content)
