"""`taxiway upscale|restyle|expand|extend`: upload, create, follow with a progress bar, download."""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from taxiway.cli.follow import cancel_after_interrupt, follow, report_busy
from taxiway.cli.remote import (
    EXIT_INTERRUPTED,
    EmailOption,
    JsonOption,
    ModelOption,
    TokenOption,
    UrlOption,
    err,
    human_size,
    print_json,
    reporting_errors,
)
from taxiway.client import Asset, Client, Policy, Task
from taxiway.client.calls import AspectRatio, ExpandAspect, TaskOptions

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ASSET_ID = re.compile(rf"^(user:.+-asset:)?{_UUID}$")

SourceArgument = Annotated[
    str,
    typer.Argument(help="A video file to upload, or an assetId.", show_default=False),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Where to save the result (default: <input>-<operation>.mp4 here)."),
]
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Overwrite the output file if it exists.")]
NoWaitOption = Annotated[bool, typer.Option("--no-wait", help="Print the task id and return at once.")]
NoDownloadOption = Annotated[bool, typer.Option("--no-download", help="Wait, but do not download.")]
TimeoutOption = Annotated[
    float | None, typer.Option("--timeout", help="Stop waiting after this many seconds (the task goes on).")
]
ExploreOption = Annotated[
    bool, typer.Option("--explore", help="exploreMode: free relaxed generation on an unlimited plan.")
]
BusyTimeoutOption = Annotated[
    float,
    typer.Option(
        "--busy-timeout",
        help="Seconds to keep trying while the account is busy (0: fail at once).",
    ),
]
BusyIntervalOption = Annotated[
    float, typer.Option("--busy-interval", help="Seconds between tries while the account is busy.", min=0.1)
]
NewUploadOption = Annotated[
    bool,
    typer.Option(
        "--new-upload",
        help="Upload the file even when your account already holds an upload of the same bytes.",
    ),
]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed for reproducible output.")]
AspectOption = Annotated[
    AspectRatio | None,
    typer.Option("--aspect", help="landscape (1280×768) or portrait (768×1280)."),
]
ExpandAspectOption = Annotated[
    ExpandAspect | None,
    typer.Option("--aspect", help="landscape (5:3), portrait (3:5), 5:3, 3:5, 16:9 or 9:16."),
]


@dataclass
class Run:
    """What every operation command was asked, besides the operation's own fields."""

    source: str
    output: Path | None
    force: bool
    as_json: bool
    no_wait: bool
    no_download: bool
    timeout: float | None
    email: str | None
    model: str | None
    explore: bool
    url: str | None
    token: str | None
    busy_timeout: float
    busy_interval: float
    new_upload: bool = False

    @property
    def options(self) -> TaskOptions:
        options: TaskOptions = {}
        if self.email:
            options["email"] = self.email
        if self.model:
            options["model"] = self.model
        if self.explore:
            options["explore_mode"] = True
        return options


CreateTask = Callable[[Client, str, TaskOptions], Task]


def run_operation(run: Run, suffix: str, create: CreateTask) -> None:
    policy = Policy(busy_timeout_seconds=run.busy_timeout, busy_interval_seconds=run.busy_interval)
    with reporting_errors():
        client = Client(run.url, run.token, policy=policy, on_busy=report_busy)
    with client, reporting_errors():
        target = _planned_output(run, suffix)
        try:
            asset_id = _source_asset(client, run)
            task = create(client, asset_id, run.options)
        except KeyboardInterrupt:
            err.print("interrupted: no task was created")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if run.no_wait:
            if run.as_json:
                print_json(task.raw)
            else:
                typer.echo(task.task_id)
            return
        err.print(f"task {task.task_id}")
        try:
            final = follow(client, task, timeout=run.timeout)
        except KeyboardInterrupt:  # Ctrl-C just before or after the progress bar
            cancel_after_interrupt(client, task)
        saved = None if run.no_download else _download(client, final, target, run.force)
        _report(final, saved, run.as_json)


def _planned_output(run: Run, suffix: str) -> Path | None:
    """Decide (and check) the output path before uploading, so a clash fails in a second, not after."""
    if run.no_wait or run.no_download:
        return None
    if run.output is not None:
        target = run.output
    elif Path(run.source).is_file():
        target = Path.cwd() / f"{Path(run.source).stem}-{suffix}.mp4"
    else:
        return None  # an asset id: the artifact's own filename, decided when it exists
    _check_free(target, run.force)
    return target


def _check_free(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir() and not force:
        raise ValueError(f"{target} exists; pass --force to overwrite it")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _earlier_upload(client: Client, path: Path, email: str | None) -> Asset | None:
    """Your upload of these very bytes, if the server has one (taxiway's ``sha256`` filter; a
    server without it lists other assets, which the hash check then leaves out)."""
    with err.status(f"checking whether {path.name} was uploaded before"):
        sha256 = _file_sha256(path)
        found = client.list_assets(sha256=sha256, email=email, limit=1)
    return next((asset for asset in found if asset.sha256 == sha256), None)


def _source_asset(client: Client, run: Run) -> str:
    path = Path(run.source)
    if path.is_file():
        if not run.new_upload and (earlier := _earlier_upload(client, path, run.email)) is not None:
            err.print(
                f"using {earlier.asset_id}, your earlier upload of {path.name} (--new-upload to upload again)"
            )
            return earlier.asset_id
        with err.status(f"uploading {path.name} ({human_size(path.stat().st_size)})"):
            asset = client.upload(path, email=run.email)
        err.print(f"uploaded {path.name} as {asset.asset_id}")
        return asset.asset_id
    if _ASSET_ID.match(run.source.strip()):
        return run.source.strip()
    raise ValueError(f"{run.source}: no such file, and not an assetId")


def _download(client: Client, task: Task, target: Path | None, force: bool) -> Path:
    if target is None or target.is_dir():
        filename = Path(task.artifacts[0].filename or f"{task.task_id.rsplit(':', 1)[-1]}.mp4").name
        target = (target or Path.cwd()) / filename
        _check_free(target, force)
    with err.status(f"downloading {target.name} ({human_size(task.artifacts[0].file_size)})"):
        return client.download(task, target)


def _report(task: Task, saved: Path | None, as_json: bool) -> None:
    artifact = task.artifacts[0] if task.artifacts else None
    if artifact is not None:
        media = artifact.media
        err.print(
            f"[green]{task.status}[/green]: {media.width}×{media.height}, {media.duration or 0:g} s, "
            f"{human_size(artifact.file_size)}" + (f", engine {task.engine}" if task.engine else "")
        )
    if as_json:
        print_json(task.raw)
    elif saved is not None:
        typer.echo(str(saved.absolute()))  # absolute: scripts can use it from anywhere
    elif artifact is not None and artifact.url:
        typer.echo(artifact.url)


def _shared_options(
    output: OutputOption = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
    no_wait: NoWaitOption = False,
    no_download: NoDownloadOption = False,
    timeout: TimeoutOption = None,
    email: EmailOption = None,
    model: ModelOption = None,
    explore: ExploreOption = False,
    busy_timeout: BusyTimeoutOption = 600.0,
    busy_interval: BusyIntervalOption = 10.0,
    new_upload: NewUploadOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """The options every operation command takes, declared once (see operation_command)."""


_SOURCE = inspect.Parameter("source", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=SourceArgument)
_SHARED = list(inspect.signature(_shared_options, eval_str=True).parameters.values())


def operation_command(app: typer.Typer, suffix: str) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Register `create(client, asset_id, options, **own)` as a command taking SOURCE, its own
    arguments and the shared options, which run_operation turns into upload, follow and download."""

    def register(create: Callable[..., Task]) -> Callable[..., Task]:
        own = list(inspect.signature(create, eval_str=True).parameters.values())[3:]

        def command(**values: Any) -> None:
            run = Run(source=values.pop("source"), **{p.name: values.pop(p.name) for p in _SHARED})
            run_operation(run, suffix, lambda client, asset, opts: create(client, asset, opts, **values))

        parameters = [_SOURCE, *own, *_SHARED]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        command.__name__, command.__doc__ = create.__name__, create.__doc__
        app.command(rich_help_panel="Edit videos")(command)
        return create

    return register


def register(app: typer.Typer) -> None:
    """Add the four operation commands to the root command."""

    @operation_command(app, suffix="4k")
    def upscale(client: Client, asset: str, options: TaskOptions) -> Task:
        """Upscale a video (at most 40 s) to 4K class, keeping its aspect ratio."""
        return client.upscale(asset, **options)

    @operation_command(app, suffix="restyled")
    def restyle(
        client: Client,
        asset: str,
        options: TaskOptions,
        prompt: Annotated[str, typer.Argument(help="The look you want, e.g. 'film noir'.")],
        strength: Annotated[
            float | None, typer.Option("--strength", min=0, max=10, help="0 (subtle) … 10 (strongest).")
        ] = None,
        aspect: AspectOption = None,
        seconds: Annotated[int | None, typer.Option("--seconds", help="Output length: 5 or 10.")] = None,
        seed: SeedOption = None,
    ) -> Task:
        """Restyle a video guided by a text prompt (video to video)."""
        return client.restyle(
            asset, prompt, strength=strength, aspect_ratio=aspect, seconds=seconds, seed=seed, **options
        )

    @operation_command(app, suffix="expanded")
    def expand(
        client: Client,
        asset: str,
        options: TaskOptions,
        aspect: ExpandAspectOption = None,
        image: Annotated[str | None, typer.Option("--image", help="Image assetId for the new area.")] = None,
        prompt: Annotated[str | None, typer.Option("--prompt", help="Optional text prompt.")] = None,
        seconds: Annotated[int | None, typer.Option("--seconds", help="Output length: 5 or 10.")] = None,
        seed: SeedOption = None,
    ) -> Task:
        """Expand (outpaint) a video to landscape 16:9 or portrait 9:16."""
        return client.expand(
            asset, aspect_ratio=aspect, image=image, prompt=prompt, seconds=seconds, seed=seed, **options
        )

    @operation_command(app, suffix="extended")
    def extend(
        client: Client,
        asset: str,
        options: TaskOptions,
        seconds: Annotated[int | None, typer.Option("--seconds", help="Seconds to add: 5 or 10.")] = None,
        prompt: Annotated[str | None, typer.Option("--prompt", help="The shot, e.g. 'slow zoom in'.")] = None,
        turbo: Annotated[bool, typer.Option("--turbo", help="gen3turbo/extend: adds 8 s.")] = False,
        seed: SeedOption = None,
    ) -> Task:
        """Extend a video by 5 or 10 seconds (8 with --turbo)."""
        return client.extend(asset, seconds=seconds, prompt=prompt, seed=seed, turbo=turbo, **options)
