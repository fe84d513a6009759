"""What the server-side commands (serve, dispatcher, admin, db) need first, failing clearly.

A bad environment variable or config file stops the command with one line per problem, naming the
setting, and exit code 2, as a bad command-line option does; a data directory, blob store or
database that cannot be used, with one line saying which and why, and exit code 1. Not a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import ValidationError

    from taxiway.context import AppContext
    from taxiway.core.settings import Settings

err = Console(stderr=True)


def load_settings(**given: Any) -> Settings:
    """Settings from the environment and config file, with `given` (None: not given) on top."""
    from pydantic import ValidationError

    from taxiway.core.settings import Settings

    try:
        return Settings(**{key: value for key, value in given.items() if value is not None})
    except ValidationError as exc:
        where = "TAXIWAY_* variables, the TAXIWAY_CONFIG file or options"
        err.print(f"[red]error:[/red] invalid settings ({where}):", soft_wrap=True)
        for line in problems(exc):
            err.print(f"  {escape(line)}", soft_wrap=True)
        raise typer.Exit(2) from None


def problems(exc: ValidationError) -> list[str]:
    """One line per problem: the setting's name (a path into nested ones) and what is wrong."""
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        # A check across settings has no location: its message names them.
        lines.append(f"{where}: {message}" if where else message)
    return lines


def open_context(settings: Settings) -> AppContext:
    """The process's services (migrating the database), or one line saying what cannot be used."""
    from taxiway.context import AppContext, StartupError

    try:
        return AppContext.build(settings)
    except StartupError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


def use_metrics_directory(settings: Settings) -> None:
    """This server's own directory for its processes' metrics, under its scratch space (one per
    server, so that servers sharing a data directory do not add up each other's), or one line
    saying why it cannot be made."""
    from taxiway.core.metrics import use_own_directory

    parent = settings.scratch_dir / "metrics"
    try:
        use_own_directory(parent)
    except OSError as exc:
        err.print(
            f"[red]error:[/red] the metrics directory under {escape(str(parent))} cannot be made: {exc}"
        )
        raise typer.Exit(1) from None


def check_metrics_port(settings: Settings) -> None:
    """One line, not a traceback from the app's startup, when ``metrics_port`` is taken."""
    import socket

    if settings.metrics_port is None:
        return
    try:
        family = socket.getaddrinfo(settings.host, settings.metrics_port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
            probe.bind((settings.host, settings.metrics_port))
    except OSError as exc:
        err.print(f"[red]error:[/red] metrics_port {settings.metrics_port} cannot be used: {exc}")
        raise typer.Exit(1) from None
