"""What every command that talks to a server shares: where, as whom, and how errors and results print."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from taxiway.client import Client, Policy, TaxiwayError

err = Console(stderr=True, highlight=False)
# Piped output is not cut to 80 columns: ids in tables must survive `| grep` whole.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 250)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="TAXIWAY_BASE_URL",
        help="The server (its root or …/v1/runwayml). Default http://127.0.0.1:8000.",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="TAXIWAY_API_TOKEN", help="Your API token.", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the JSON object(s) for scripts.")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="The engine to run, by model name, or 'classic' (see `taxiway engines`)."),
]
EmailOption = Annotated[
    str | None, typer.Option("--email", help="The account to act on (default: the server picks).")
]

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # the shell's code for a process stopped by Ctrl-C


@contextmanager
def reporting_errors() -> Iterator[None]:
    """User errors become one red line on stderr and exit code 1, never a traceback."""
    try:
        yield
    except TaxiwayError as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}")
        raise typer.Exit(EXIT_ERROR) from None
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_ERROR) from None


def connect(url: str | None, token: str | None, policy: Policy | None = None) -> Client:
    with reporting_errors():
        return Client(url, token, policy=policy)


def print_json(data: Any) -> None:
    """Machine-readable output: one JSON document on stdout, nothing else there."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} B"


def table(*columns: str) -> Table:
    """A table whose first column (ids) never wraps or truncates: it is what users copy."""
    grid = Table()
    grid.add_column(columns[0], no_wrap=True, min_width=36)
    for column in columns[1:]:
        grid.add_column(column)
    return grid


def short_time(stamp: str | None) -> str:
    """2026-11-23T10:11:12.345Z -> 2026-11-23 10:11:12."""
    return (stamp or "").replace("T", " ")[:19]
