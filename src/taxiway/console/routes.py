"""Serves the console's static files at /console, with headers that let them run nothing else."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from taxiway.core.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"


def content_security_policy(settings: Settings) -> str:
    """Only the console's own files run; media may also come from the S3 store's public address,
    where presigned artifact links point."""
    media = ["'self'", "blob:"]
    store = settings.s3_public_endpoint_url or settings.s3_endpoint_url
    if settings.blob_backend == "s3":
        parts = urlsplit(store) if store else None
        media.append(f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else "https:")
    sources = " ".join(media)
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {sources} data:",
            f"media-src {sources}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


class ConsoleFiles(StaticFiles):
    """StaticFiles whose every answer carries the console's security headers."""

    def __init__(self, policy: str) -> None:
        super().__init__(directory=STATIC_DIR, html=True)
        self.mount: Mount | None = None
        self.headers = {
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            # Signed links live in the page's URLs (media, downloads): never hand them on.
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            # Always revalidated, so an upgraded server never runs yesterday's script beside today's.
            "Cache-Control": "no-cache",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The mount as the route, in the scope the request timing shares: /metrics counts every
        # console file under one route, /console, never by file name.
        if self.mount is not None:
            scope["route"] = self.mount
        await super().__call__(scope, receive, send)

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:  # a missing file: answered in the API's shape, headers and all
            response = JSONResponse(
                {"error": exc.detail, "code": exc.status_code}, status_code=exc.status_code
            )
        response.headers.update(self.headers)
        return response


def install_console(app: FastAPI, settings: Settings) -> None:
    """`/console/` serves the console and `/` redirects there. (A mount, so on the app itself:
    FastAPI's include_router passes on routes only.)"""

    async def root() -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    files = ConsoleFiles(content_security_policy(settings))
    app.mount(CONSOLE_PATH, files, name="console")
    files.mount = next(route for route in app.routes if isinstance(route, Mount) and route.app is files)
