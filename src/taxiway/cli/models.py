"""`taxiway models …`: model files for the neural engines, made ready on the machine that serves them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

# numpy, torch and spandrel load only when a command runs, so that `taxiway --help` stays quick.

models_app = typer.Typer(
    help="Neural model files: import ncnn models for the spandrel engine.", no_args_is_help=True
)
err = Console(stderr=True, highlight=False)

# ncnn against the converted model on the verification image: they agree to ~1e-5 (float16 weights
# widened the same way, only the order of sums differs); anything near a grey level is a mistake.
VERIFY_TOLERANCE = 1e-3


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(1)


@models_app.command("import-ncnn")
def import_ncnn(
    param: Annotated[
        Path, typer.Argument(help="The model's .param; its weights, the .bin of the same name, beside it.")
    ],
    name: Annotated[
        str | None,
        typer.Option(
            help="The model's name and file name in the models folder (default: the .param's name)."
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Run the original with the ncnn package and the converted model on a test image; "
            "print the largest difference (writes nothing if it is over 1e-3).",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite a model of that name.")] = False,
) -> None:
    """Convert an ncnn super-resolution model (Real-ESRGAN, realesr-animevideov3/general, SPAN) to a
    .safetensors in the models folder; prints its path, and on stderr the settings that use it."""
    from taxiway.cli.startup import load_settings
    from taxiway.core.settings import MODEL_NAME

    model_name = name if name is not None else param.stem
    if not MODEL_NAME.fullmatch(model_name) or model_name == "classic":
        hint = "" if name is not None else f" ({param.name}'s name); pass --name"
        raise _fail(
            f"model name {model_name!r}{hint}: use 1-64 letters, digits, '.', '_' or '-' (not 'classic')"
        )
    missing = [pkg for pkg in ("torch", "spandrel", "safetensors") if importlib.util.find_spec(pkg) is None]
    if missing:
        raise _fail(
            f"converting needs the neural extra ({', '.join(missing)} missing): pip install -e '.[neural]'"
        )
    if verify and importlib.util.find_spec("ncnn") is None:
        raise _fail(
            "--verify runs the original model with the ncnn package, which is not installed: pip install ncnn"
        )
    settings = load_settings()
    target = settings.resolved_models_dir / f"{model_name}.safetensors"
    if target.exists() and not force:
        raise _fail(f"{target} exists; pass --force to overwrite it, or --name to choose another name")

    from taxiway.engines.neural import ncnn

    try:
        model = ncnn.read_model(param)
        converted = ncnn.convert(model)
        descriptor = ncnn.load_with_spandrel(converted)
        if verify:
            image = ncnn.verification_image()
            difference = ncnn.largest_difference(model, descriptor, image)
            height, width = image.shape[:2]
            typer.echo(
                f"verify: ncnn and the converted model differ by at most {difference:.2e} "
                f"on a {width}×{height} test image (0..1 RGB)",
                err=True,
            )
            if not difference <= VERIFY_TOLERANCE:
                raise ncnn.NcnnImportError(
                    f"{param}: the converted model differs from ncnn's by {difference:.2e} "
                    f"(more than {VERIFY_TOLERANCE:g}); nothing was written"
                )
        ncnn.save(converted, target)
    except ncnn.NcnnImportError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{exc.filename or target}: {exc.strerror or exc}") from None

    filename = target.name
    for line in (
        f"Imported {param.name}: {converted.summary}.",
        "To make it the upscale model, set in the environment:",
        f"  TAXIWAY_UPSCALE_MODEL={filename}",
        "or add to the TOML file that TAXIWAY_CONFIG names:",
        f"  [models.{model_name}]",
        '  engine = "spandrel"',
        f'  path = "{filename}"',
        f"(the path is relative to models_dir, here {target.parent}: the server must use the same)",
    ):
        typer.echo(line, err=True)
    typer.echo(str(target))
