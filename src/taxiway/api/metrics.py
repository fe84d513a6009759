"""GET /metrics: the Prometheus exposition of this server, and the timing of every request.

A scrape shows what the database knows (read then, the same on every server: tasks/metrics.py)
and what this server's processes observed (core/metrics.py). It is not part of the contract, so not
in the OpenAPI document. Settings: ``metrics_enabled``; ``metrics_token`` makes it answer only
``Authorization: Bearer <token>`` (401 in the contract's shape otherwise); ``metrics_port`` serves it
on a port of its own instead (the API's /metrics is then a 404).
"""

from __future__ import annotations

import gzip
import hmac
import socket
import threading
import time
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taxiway.api.errors import error_response
from taxiway.context import AppContext
from taxiway.core import metrics
from taxiway.core.settings import Settings
from taxiway.tasks.metrics import DatabaseCollector

METRICS_PATH = "/metrics"
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
UNMATCHED = "unmatched"  # the route of a request no route took (a 404): never its raw path


class RequestMetrics:
    """ASGI middleware: counts each request by method, route template and status, and times it to
    the start of its response. It only watches what is sent, so a streamed body (an event stream,
    a download) passes through as it is made, never buffered."""

    def __init__(self, app: ASGIApp, templates: dict[int, str]) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def watched_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self._observe(scope, message["status"], time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception:  # not a cancel (the client went away): that is answered with nothing
            if not answered:  # the server's error handler answers 500 outside this middleware
                self._observe(scope, 500, time.perf_counter() - started)
            raise

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        # The route the router chose (set in the scope it shares with us), by its template.
        route = scope.get("route")
        template = self.templates.get(id(route)) or getattr(route, "path", None) or UNMATCHED
        method = scope["method"] if scope["method"] in _METHODS else "other"
        metrics.http_request(method, template, status, seconds)


class MetricsEndpoint:
    """What a scrape answers, and who may scrape: one per app, built at its startup."""

    def __init__(self, ctx: AppContext) -> None:
        self.token = ctx.settings.metrics_token
        self.registry = CollectorRegistry()
        # The database first: a failure it counts shows in the same scrape's process figures.
        self.registry.register(DatabaseCollector(ctx))
        self.registry.register(metrics.process_collector())

    def authorized(self, authorization: str | None) -> bool:
        if not self.token:
            return True
        scheme, _, credentials = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), self.token.encode()
        )

    def render(self, accept: str | None, accept_encoding: str | None) -> tuple[bytes, dict[str, str]]:
        """The exposition in the format the scraper asked for (Prometheus text, or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept or "")
        body = encoder(self.registry)
        headers = {"Content-Type": content_type}
        if gzip_accepted(accept_encoding or ""):
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        return body, headers


def serve_metrics(request: Request) -> Response:
    """A plain function: FastAPI runs it in its thread pool, so the event loop never waits on the
    database's figures."""
    endpoint: MetricsEndpoint = request.app.state.metrics
    if not endpoint.authorized(request.headers.get("authorization")):
        return error_response(401, "Unauthorized", {"WWW-Authenticate": "Bearer"})
    body, headers = endpoint.render(request.headers.get("accept"), request.headers.get("accept-encoding"))
    return Response(body, headers=headers)


def install_metrics(app: FastAPI, settings: Settings, routers: dict[str, tuple[APIRouter, ...]]) -> None:
    """Time every request, and answer GET /metrics here unless it has a port of its own.

    ``routers`` are the app's routers by the prefix they were included with: a route of an
    included router knows only its own part of the path, and requests are counted by the whole.
    """
    if not settings.metrics_enabled:
        return
    templates = {
        id(route): prefix + path
        for prefix, group in routers.items()
        for router in group
        for route in router.routes
        if isinstance(path := getattr(route, "path", None), str)
    }
    app.add_middleware(RequestMetrics, templates=templates)
    if settings.metrics_port is None:
        app.add_api_route(METRICS_PATH, serve_metrics, methods=["GET"], include_in_schema=False)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """A thread per scrape: one waiting on the database never holds up another."""

    daemon_threads = True


class MetricsPort:
    """GET /metrics on a port of its own (``metrics_port``), in a thread of this process."""

    def __init__(self, endpoint: MetricsEndpoint, host: str, port: int) -> None:
        self.endpoint = endpoint
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]  # "::" is IPv6
        server_class = type("MetricsServer", (_ThreadingServer,), {"address_family": family})
        self._server = make_server(host, port, self._app, server_class, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-port", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self) -> MetricsPort:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != METRICS_PATH:
            status, headers, body = _json(404, "Not found.")
        elif environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            status, headers, body = _json(405, "Method not allowed.")
            headers.append(("Allow", "GET"))
        elif not self.endpoint.authorized(environ.get("HTTP_AUTHORIZATION")):
            status, headers, body = _json(401, "Unauthorized")
            headers.append(("WWW-Authenticate", "Bearer"))
        else:
            body, found = self.endpoint.render(
                environ.get("HTTP_ACCEPT"), environ.get("HTTP_ACCEPT_ENCODING")
            )
            status, headers = "200 OK", list(found.items())
        start_response(status, headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]


def _json(status: int, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    response = error_response(status, message)
    return f"{status} {_REASONS[status]}", [("Content-Type", "application/json")], bytes(response.body)


_REASONS = {401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}
