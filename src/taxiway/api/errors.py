"""Every error leaves as the contract's {"error": "...", "code": N}, never a bare 500 page."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from taxiway.core.disk import full_disk_error, is_disk_full
from taxiway.core.errors import ApiError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": status}, status_code=status, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers to, found by asking the routes about each one: a
    path such as tasks/{taskId} has one route per method, and Starlette's Allow names only one."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        messages = {404: "Not found.", 405: "Method not allowed."}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: a 405 says which methods the resource supports
            headers["Allow"] = allowed_methods(request)
        return error_response(exc.status_code, messages.get(exc.status_code, str(exc.detail)), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0])
            problems.append(f"{where}: {error['msg']}")
        return error_response(400, "; ".join(problems))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_disk_full(exc):  # the operator's problem, said as such: not a 500
            log.error("%s %s: a disk is full: %s", request.method, request.url.path, exc)
            full = full_disk_error(request.app.state.ctx.settings, exc)
            return JSONResponse(full.body(), status_code=full.status)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal server error; the server log has the details.")
