"""The `taxiway` command: run a server, use one (edit videos, manage tasks and assets), administer it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from taxiway.cli import operations
from taxiway.cli.admin import admin, db_app
from taxiway.cli.dispatcher import dispatcher
from taxiway.cli.models import models_app
from taxiway.cli.remote import err
from taxiway.cli.resources import accounts_app, assets_app, engines, tasks_app

app = typer.Typer(
    help="taxiway: a self-hosted video editing API, its client and its admin tools.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
operations.register(app)
app.add_typer(tasks_app, name="tasks", rich_help_panel="Use a server")
app.add_typer(assets_app, name="assets", rich_help_panel="Use a server")
app.add_typer(accounts_app, name="accounts", rich_help_panel="Use a server")
app.command(rich_help_panel="Use a server")(engines)
app.add_typer(admin, name="admin", rich_help_panel="Run a server")
app.add_typer(db_app, name="db", rich_help_panel="Run a server")
app.add_typer(models_app, name="models", rich_help_panel="Run a server")
app.command(rich_help_panel="Run a server")(dispatcher)


@app.command(rich_help_panel="Run a server")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the API server with its scheduler, worker processes and callback deliverer."""
    from taxiway.cli.startup import check_metrics_port, load_settings, open_context, use_metrics_directory

    settings = load_settings(host=host, port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ctx = open_context(settings)  # a bad store or database: one line, exit 1
    if settings.metrics_enabled:
        check_metrics_port(settings)
        use_metrics_directory(settings)  # before the app's imports bring prometheus_client

    import uvicorn

    from taxiway.api.app import ApiServer, create_app
    from taxiway.core.metrics import release_own_directory as release_metrics_directory

    api = create_app(settings, ctx)
    config = uvicorn.Config(api, host=host, port=port, log_level="info", proxy_headers=True)
    ApiServer(config, api, after_shutdown=release_metrics_directory).run()


@app.command(rich_help_panel="Use a server")
def sample(
    path: Annotated[Path, typer.Argument(help="Where to write the clip, e.g. holiday.mp4.")],
    seconds: Annotated[float, typer.Option(help="Length in seconds.", min=0.5, max=40)] = 5.0,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write a sample clip to try the server with (1280×720, 24 fps, H.264 and a tone)."""
    from taxiway.media.sample import write_sample_clip

    if path.exists() and not force:
        err.print(f"[red]error:[/red] {path} exists; pass --force to overwrite it")
        raise typer.Exit(1)
    write_sample_clip(path, seconds=seconds)
    typer.echo(str(path.absolute()))


if __name__ == "__main__":
    app()
