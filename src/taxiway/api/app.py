"""The app factory: settings in, a FastAPI app out, with its background parts tied to its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI

from taxiway import __version__
from taxiway.api.errors import install_error_handlers
from taxiway.api.metrics import MetricsEndpoint, MetricsPort, install_metrics
from taxiway.api.openapi import install_openapi
from taxiway.api.routes import accounts, assets, engines, events, files, operations, system, tasks
from taxiway.console.routes import install_console
from taxiway.context import AppContext, StartupError
from taxiway.core import metrics
from taxiway.core.settings import Settings
from taxiway.engines.catalog import model_warnings
from taxiway.executors.local.supervisor import LocalExecutor
from taxiway.scheduler.loop import Scheduler
from taxiway.tasks.feed import ChangeFeed
from taxiway.webhooks.deliverer import WebhookDeliverer

log = logging.getLogger(__name__)

API_PREFIX = "/v1/runwayml"


def create_app(settings: Settings | None = None, ctx: AppContext | None = None) -> FastAPI:
    """The API app. Its services are `ctx` when given (whose settings it then uses), else built at
    startup (StartupError if one cannot be used); closed at shutdown either way."""
    settings = ctx.settings if ctx is not None else settings or Settings()
    built = ctx

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = built or AppContext.build(settings)
        for warning in model_warnings(settings):
            log.warning("%s; its tasks will fail until it is fixed", warning)
        app.state.ctx = ctx
        metrics_port = _start_metrics(app, ctx)  # first: a port in use stops startup before work starts
        app.state.executor = None
        app.state.feed = ChangeFeed(ctx)
        scheduler = None
        slots = "no worker slots"
        if settings.executor == "local":
            executor = LocalExecutor.from_settings(ctx)  # may probe the GPUs (seconds, once)
            if executor.size:
                executor.start()
                scheduler = Scheduler(ctx, executor)
                scheduler.start()
                app.state.executor = executor
                slots = executor.describe()
        deliverer = WebhookDeliverer(ctx)
        deliverer.start()
        log.info(
            "taxiway %s serving; database %s; %s",
            __version__,
            ctx.db.engine.url.render_as_string(hide_password=True),
            slots,
        )
        try:
            yield
        finally:
            if metrics_port is not None:
                metrics_port.stop()
            app.state.feed.close()
            if scheduler is not None:
                scheduler.stop()
                app.state.executor.stop()
            deliverer.stop()
            ctx.close()

    app = FastAPI(
        title="taxiway",
        version=__version__,
        description="Self-hosted video editing API that speaks the Runway (useapi.net) REST contract.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    routers: dict[str, tuple[APIRouter, ...]] = {
        API_PREFIX: (
            operations.router_for(settings),
            assets.router,
            tasks.router,
            accounts.router,
            files.router,
            engines.router,  # extensions
            events.router,
        ),
        "": (system.router,),
    }
    for prefix, group in routers.items():
        for router in group:
            app.include_router(router, prefix=prefix)
    install_console(app, settings)
    install_metrics(app, settings, routers)
    install_openapi(app)
    return app


def _start_metrics(app: FastAPI, ctx: AppContext) -> MetricsPort | None:
    """The scrape endpoint, and its own port when it has one (which then serves it alone)."""
    settings = ctx.settings
    if not settings.metrics_enabled:
        return None
    app.state.metrics = MetricsEndpoint(ctx)
    if metrics.multiprocess_directory() is None:
        log.info("metrics: PROMETHEUS_MULTIPROC_DIR is not set, so /metrics shows this process's only")
    if settings.metrics_port is None:
        return None
    try:
        port = MetricsPort(app.state.metrics, settings.host, settings.metrics_port).start()
    except OSError as exc:
        raise StartupError(f"metrics_port {settings.metrics_port} cannot be used: {exc}") from exc
    log.info("metrics served on http://%s:%d/metrics", settings.host, port.port)
    return port


class ApiServer(uvicorn.Server):
    """uvicorn's server for the app, which ends its event streams when it stops: uvicorn waits for
    every open response to finish before it shuts the app down, and a stream only ends when told.

    ``after_shutdown`` runs once the app has shut down (its worker processes stopped): uvicorn ends
    a process stopped by a signal with that signal, so atexit handlers would not run.
    """

    def __init__(
        self, config: uvicorn.Config, app: FastAPI, after_shutdown: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.app = app
        self.after_shutdown = after_shutdown

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        feed = getattr(self.app.state, "feed", None)
        if feed is not None:
            feed.close()
        await super().shutdown(sockets)
        if self.after_shutdown is not None:
            self.after_shutdown()
