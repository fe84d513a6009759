"""`taxiway tasks|assets|accounts|engines …`: look at and manage what you have on a server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from taxiway.cli.follow import follow
from taxiway.cli.remote import (
    EmailOption,
    JsonOption,
    TokenOption,
    UrlOption,
    connect,
    err,
    human_size,
    out,
    print_json,
    reporting_errors,
    short_time,
    table,
)
from taxiway.client import Account, Asset, Client, Engines, Task

tasks_app = typer.Typer(help="Your tasks: list, show, wait, download, cancel, delete.", no_args_is_help=True)
assets_app = typer.Typer(help="Your assets: list, show, upload, delete.", no_args_is_help=True)
accounts_app = typer.Typer(help="Your accounts: maxJobs, callback URL and credits.", no_args_is_help=True)

TaskArgument = Annotated[str, typer.Argument(help="A taskId (or the task's bare uuid).", show_default=False)]
AssetArgument = Annotated[
    str, typer.Argument(help="An assetId (or the asset's bare uuid).", show_default=False)
]
EmailArgument = Annotated[str, typer.Argument(help="The account's email.", show_default=False)]
LimitOption = Annotated[int | None, typer.Option("--limit", help="At most this many, newest first.")]
OffsetOption = Annotated[int, typer.Option("--offset", help="Skip this many.")]


def _call(url: str | None, token: str | None, action: Callable[[Client], Any]) -> Any:
    """Connect, act and close; errors become one line and exit code 1."""
    with connect(url, token) as client, reporting_errors():
        return action(client)


def _short(identifier: str) -> str:
    """The bare uuid at the end of a composite id: what a table can show and commands accept."""
    return identifier.rsplit(":", 1)[-1]


def _percent(task: Task) -> str:
    return f"{task.progress_ratio:.0%}" if task.is_live or task.status == "SUCCEEDED" else ""


def _size(width: int | None, height: int | None) -> str:
    return f"{width}×{height}" if width and height else ""


# Tasks -----------------------------------------------------------------------------------------


@tasks_app.command("ls")
def tasks_ls(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable), e.g. RUNNING.")
    ] = None,
    limit: LimitOption = 20,
    offset: OffsetOption = 0,
    email: EmailOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List your tasks, newest first."""
    statuses = [s.upper() for s in status] if status else None
    tasks: list[Task] = _call(
        url, token, lambda c: c.list_tasks(offset=offset, limit=limit, statuses=statuses, email=email)
    )
    if as_json:
        print_json([task.raw for task in tasks])
        return
    grid = table("id", "name", "status", "progress", "engine", "created")
    for task in tasks:
        grid.add_row(
            _short(task.task_id),
            task.name or "",
            task.status,
            _percent(task),
            task.engine or "",
            task.created_at,
        )
    out.print(grid)


@tasks_app.command("show")
def tasks_show(task: TaskArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Print one task as JSON (status, progress, artifacts with download links)."""
    found: Task = _call(url, token, lambda c: c.get_task(task))
    print_json(found.raw)


@tasks_app.command("wait")
def tasks_wait(
    task: TaskArgument,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Also download the result here.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop waiting after this many seconds.")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Follow a task with a progress bar until it ends, optionally downloading it (Ctrl-C stops watching)."""

    def wait(client: Client) -> None:
        final = follow(client, client.get_task(task), timeout=timeout, cancel_on_interrupt=False)
        saved = client.download(final, output) if output else None
        if as_json:
            print_json(final.raw)
        else:
            typer.echo(str(saved.absolute()) if saved else final.status)

    _call(url, token, wait)


@tasks_app.command("download")
def tasks_download(
    task: TaskArgument,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="A file, or a folder to keep the filename.")
    ] = Path(),
    index: Annotated[int, typer.Option("--index", help="Which artifact, when there are several.")] = 0,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Download a finished task's artifact."""
    saved: Path = _call(url, token, lambda c: c.download(task, output, index=index))
    typer.echo(str(saved.absolute()))


@tasks_app.command("cancel")
def tasks_cancel(task: TaskArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Cancel a live task (its credits are refunded); a finished task is left as it is."""
    state: Task = _call(url, token, lambda c: c.cancel_task(task))
    err.print(f"task {state.task_id} is {state.status}")


@tasks_app.command("rm")
def tasks_rm(task: TaskArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete a finished task with its artifacts (a live task is cancelled instead)."""
    cancelled: Task | None = _call(url, token, lambda c: c.delete_task(task))
    if cancelled is None:
        err.print(f"deleted task {task}")
    else:
        err.print(f"task {cancelled.task_id} was live: it is {cancelled.status} now (rm again to delete it)")


# Assets ----------------------------------------------------------------------------------------


def _asset_row(asset: Asset) -> tuple[str, ...]:
    media = asset.media
    duration = f"{media.duration:g} s" if media.duration is not None else ""
    return (
        _short(asset.asset_id),
        asset.name or "",
        asset.media_type or "",
        _size(media.width, media.height),
        duration,
        human_size(asset.file_size),
        short_time(asset.created_at),
    )


@assets_app.command("ls")
def assets_ls(
    media_type: Annotated[str | None, typer.Option("--type", help="video or image.")] = None,
    limit: LimitOption = 20,
    offset: OffsetOption = 0,
    email: EmailOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """List your assets (uploads and results), newest first."""
    assets: list[Asset] = _call(
        url, token, lambda c: c.list_assets(offset=offset, limit=limit, media_type=media_type, email=email)
    )
    if as_json:
        print_json([asset.raw for asset in assets])
        return
    grid = table("id", "name", "type", "size", "duration", "bytes", "created")
    for asset in assets:
        grid.add_row(*_asset_row(asset))
    out.print(grid)


@assets_app.command("show")
def assets_show(asset: AssetArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Print one asset as JSON (with its download link)."""
    found: Asset = _call(url, token, lambda c: c.get_asset(asset))
    print_json(found.raw)


@assets_app.command("upload")
def assets_upload(
    path: Annotated[Path, typer.Argument(help="A video or image file.", exists=True, dir_okay=False)],
    name: Annotated[
        str | None, typer.Option("--name", help="The asset's name (default: the file name).")
    ] = None,
    email: EmailOption = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Upload a file; prints its assetId (for the operation commands and scripts)."""

    def upload(client: Client) -> Asset:
        with err.status(f"uploading {path.name} ({human_size(path.stat().st_size)})"):
            return client.upload(path, name=name, email=email)

    asset: Asset = _call(url, token, upload)
    if as_json:
        print_json(asset.raw)
    else:
        typer.echo(asset.asset_id)


@assets_app.command("rm")
def assets_rm(asset: AssetArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete an asset and its files (refused while a live task reads it)."""
    _call(url, token, lambda c: c.delete_asset(asset))
    err.print(f"deleted asset {asset}")


# Accounts --------------------------------------------------------------------------------------


@accounts_app.command("ls")
def accounts_ls(as_json: JsonOption = False, url: UrlOption = None, token: TokenOption = None) -> None:
    """List your accounts."""
    accounts: list[Account] = _call(url, token, lambda c: c.list_accounts())
    if as_json:
        print_json([account.raw for account in accounts])
        return
    grid = table("email", "maxJobs", "replyUrl")
    for account in accounts:
        grid.add_row(account.email, str(account.max_jobs or ""), account.reply_url or "")
    out.print(grid)


@accounts_app.command("show")
def accounts_show(email: EmailArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Print one account as JSON."""
    account: Account = _call(url, token, lambda c: c.get_account(email))
    print_json(account.raw)


@accounts_app.command("set")
def accounts_set(
    email: EmailArgument,
    max_jobs: Annotated[int, typer.Option("--max-jobs", min=1, max=10, help="Concurrent tasks, 1…10.")] = 5,
    reply_url: Annotated[str | None, typer.Option("--reply-url", help="Default callback URL.")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Create an account, or change its maxJobs and callback URL."""
    account: Account = _call(
        url, token, lambda c: c.set_account(email, max_jobs=max_jobs, reply_url=reply_url)
    )
    if as_json:
        print_json(account.raw)
    else:
        err.print(f"{account.email}: maxJobs {account.max_jobs}")


@accounts_app.command("rm")
def accounts_rm(email: EmailArgument, url: UrlOption = None, token: TokenOption = None) -> None:
    """Delete an account (its assets and tasks stay; refused while it has live tasks)."""
    _call(url, token, lambda c: c.delete_account(email))
    err.print(f"deleted account {email}")


@accounts_app.command("credits")
def accounts_credits(
    email: Annotated[str | None, typer.Argument(help="The account (optional with one account).")] = None,
    as_json: JsonOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Credits permitted, used and available."""
    credits = _call(url, token, lambda c: c.credits(email))
    if as_json:
        print_json(credits.raw)
    else:
        spent = f"{credits.permitted} permitted, {credits.used} used"
        typer.echo(f"{credits.email}: {credits.available} available ({spent})")


# Engines ---------------------------------------------------------------------------------------

_STATUS_STYLES = {"ready": "green", "missing weights": "yellow", "not installed": "red"}


def engines(as_json: JsonOption = False, url: UrlOption = None, token: TokenOption = None) -> None:
    """The engines offered per operation (what --model takes), whether each is ready, and the device."""
    found: Engines = _call(url, token, lambda c: c.engines())
    if as_json:
        print_json(found.raw)
        return
    out.print(_device_line(found.device))
    grid = Table()
    for column in ("operation", "model", "engine", "status", "default", "problem"):
        grid.add_column(column)
    for operation, offered in found.operations.items():
        for engine in offered:
            style = _STATUS_STYLES.get(engine.status, "")
            grid.add_row(
                operation,
                escape(engine.model),
                escape(engine.engine),
                f"[{style}]{engine.status}[/{style}]" if style else escape(engine.status),
                "yes" if engine.default else "",
                escape(engine.problem or ""),
            )
    out.print(grid)


def _device_line(device: dict[str, Any]) -> str:
    """device: auto → cuda (NVIDIA H100 80GB HBM3)"""
    line = f"device: {device.get('setting', '?')} → {device.get('resolved', '?')}"
    if device.get("gpu"):
        line += f" ({device['gpu']})"
    if device.get("problem"):
        line += f": {device['problem']}"
    return escape(line)
