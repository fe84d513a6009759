"""Which engines this server offers for each operation, and which one a request gets.

The classic engine of every operation is always offered (as model "classic"); configured neural
models are offered for the operations they serve. A request's optional ``model`` field picks one;
without it an operation runs its ``default_models`` entry (or the ``upscale_model`` shorthand),
else the first configured model that serves it, else the classic engine. That middle step is
skipped when the workers have no GPU to run models on (``neural_default`` False, see
:mod:`taxiway.engines.devices`): the classic engines are the fallback. Nothing here imports a model
library: the API process names, checks and lists engines without loading them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from taxiway.core.model_config import ModelConfig
from taxiway.core.settings import Settings

CLASSIC = "classic"
CLASSIC_ENGINES = {
    "upscale": "classic-upscale",
    "expand": "classic-expand",
    "extend": "classic-extend",
    "video_to_video": "classic-restyle",
}
# The Python packages each engine kind needs (the `neural` extra).
ENGINE_PACKAGES = {
    "spandrel": ("torch", "spandrel"),
    "wan-vace": ("torch", "diffusers", "transformers"),
    "wan": ("torch", "diffusers", "transformers"),
}


class UnknownModel(ValueError):
    """A request named a model this server does not offer for the operation."""


@dataclass(frozen=True)
class EngineChoice:
    operation: str
    model: str  # "classic" or a configured model's name
    engine: str  # what tasks show in options.engine: "classic-expand", "wan-vace:wan-1-3b", ...
    config: ModelConfig | None = None  # None for classic engines
    path: Path | None = None  # the checkpoint, resolved against models_dir

    @property
    def neural(self) -> bool:
        return self.config is not None


def model_path(settings: Settings, config: ModelConfig) -> Path:
    path = config.path.expanduser()
    return path if path.is_absolute() else settings.resolved_models_dir / path


def _neural_choice(operation: str, name: str, config: ModelConfig, settings: Settings) -> EngineChoice:
    engine = f"{config.engine}:{name}"[:100]
    return EngineChoice(operation, name, engine, config, model_path(settings, config))


def configured_default(operation: str, settings: Settings) -> str | None:
    """The model the configuration names as ``operation``'s default, if it names one."""
    if operation in settings.default_models:
        return settings.default_models[operation]
    if operation == "upscale":
        return settings.upscale_model_name  # the shorthand is "the upscale default"
    return None


def offered(operation: str, settings: Settings, *, neural_default: bool = True) -> list[EngineChoice]:
    """Every engine offered for ``operation``, the default first.

    ``neural_default`` False: unless the configuration names a default, the classic engine is it.
    """
    choices = [
        _neural_choice(operation, name, config, settings)
        for name, config in settings.all_models.items()
        if operation in config.serves()
    ]
    classic = EngineChoice(operation, CLASSIC, CLASSIC_ENGINES[operation])
    choices.append(classic)
    default = configured_default(operation, settings)
    if default is None and not neural_default:
        default = CLASSIC
    if default is not None:
        choices.sort(key=lambda choice: choice.model != default)
    return choices


def choose(
    operation: str, settings: Settings, requested: str | None = None, *, neural_default: bool = True
) -> EngineChoice:
    """The engine a task of ``operation`` runs; raises UnknownModel for a model not offered for it."""
    choices = offered(operation, settings, neural_default=neural_default)
    if not requested:
        return choices[0]
    for choice in choices:
        if choice.model == requested:
            return choice
    names = ", ".join(choice.model for choice in choices)
    raise UnknownModel(
        f"model {requested!r} is not offered for {operation.replace('_', ' ')} on this server; "
        f"offered: {names} (GET /v1/runwayml/engines lists them)"
    )


def missing_packages(config: ModelConfig) -> list[str]:
    """The Python packages this model's engine needs that are not installed here."""
    return [name for name in ENGINE_PACKAGES[config.engine] if importlib.util.find_spec(name) is None]


def weights_problem(choice: EngineChoice) -> str | None:
    """Why this model's weights cannot be loaded from here, judged from the file system alone."""
    if choice.config is None or choice.path is None:
        return None
    if choice.config.engine == "spandrel":
        return None if choice.path.is_file() else f"no checkpoint file at {choice.path}"
    if not (choice.path / "model_index.json").is_file():
        return f"no diffusers folder (model_index.json) at {choice.path}"
    return None


READY = "ready"
MISSING_WEIGHTS = "missing weights"
NOT_INSTALLED = "not installed"


def readiness(choice: EngineChoice) -> tuple[str, str | None]:
    """Whether this engine can run here (READY, MISSING_WEIGHTS or NOT_INSTALLED), and why not."""
    if choice.config is None:
        return READY, None
    missing = missing_packages(choice.config)
    if missing:
        return NOT_INSTALLED, f"missing Python package(s) {', '.join(missing)}: install taxiway[neural]"
    try:
        problem = weights_problem(choice)
    except OSError as exc:  # e.g. a models folder this process may not read
        problem = f"cannot read {choice.path}: {exc.strerror or exc}"
    return (MISSING_WEIGHTS, problem) if problem else (READY, None)


def model_warnings(settings: Settings) -> list[str]:
    """One line per configured model that cannot run from here (logged when a server starts)."""
    lines = []
    for name, config in settings.all_models.items():
        _, problem = readiness(_neural_choice(config.serves()[0], name, config, settings))
        if problem:
            lines.append(f"model {name!r} ({config.engine}) cannot run here: {problem}")
    return lines
