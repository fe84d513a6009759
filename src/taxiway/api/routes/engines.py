"""Extension: which engines this server offers for each operation, whether each can run, and where.

Everything is judged from settings and the file system; no model library is imported into the API
process. The device neural engines run on needs torch, so it is probed once, lazily, in a separate
Python process: that keeps torch's libraries and a CUDA context out of the API server.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from taxiway.api.deps import Ctx, CurrentUser
from taxiway.core.model_config import OPERATIONS
from taxiway.core.settings import Settings
from taxiway.engines import catalog
from taxiway.engines.catalog import EngineChoice

log = logging.getLogger(__name__)

router = APIRouter(tags=["engines"])

UNKNOWN = "unknown"

# Fields of a model's configuration that the listing shows elsewhere (or not at all).
_NOT_SETTINGS = {"engine", "path", "operations"}

# Run in a fresh interpreter: what a freshly spawned worker would see.
DEVICE_PROBE = (
    "import json, torch\n"
    "cuda = torch.cuda.is_available()\n"
    "print(json.dumps({'cuda': cuda, 'gpu': torch.cuda.get_device_name(0) if cuda else None}))\n"
)
DEVICE_PROBE_TIMEOUT_SECONDS = 60.0

# One probe at a time: concurrent first requests wait for the one already running, then reuse it.
_probe_lock = threading.Lock()


@router.get(
    "/engines",
    summary="Extension: the engines offered for each operation, whether each is ready, and the device.",
)
async def list_engines(request: Request, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    settings = ctx.settings
    device = await run_in_threadpool(cached_device, request.app.state, settings)
    operations = await run_in_threadpool(engine_listing, settings)
    return {"device": device, "operations": operations}


# Engines ---------------------------------------------------------------------------------------


def engine_listing(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Every operation's engines in the order requests get them: the default first."""
    return {
        operation: [
            _engine_json(choice, default=index == 0)
            for index, choice in enumerate(catalog.offered(operation, settings))
        ]
        for operation in OPERATIONS
    }


def _engine_json(choice: EngineChoice, *, default: bool) -> dict[str, Any]:
    status, problem = catalog.readiness(choice)
    config = choice.config
    return {
        "model": choice.model,
        "engine": choice.engine,
        "kind": config.engine if config is not None else catalog.CLASSIC,
        "default": default,
        "status": status,
        "problem": problem,
        "path": str(choice.path) if choice.path is not None else None,
        "settings": config.model_dump(mode="json", exclude=_NOT_SETTINGS) if config is not None else {},
    }


# Device ----------------------------------------------------------------------------------------


def cached_device(state: Any, settings: Settings) -> dict[str, Any]:
    """The device block, probed at most once per app and neural_device setting."""
    with _probe_lock:
        cache: dict[str, dict[str, Any]] | None = getattr(state, "engine_devices", None)
        if cache is None:
            cache = state.engine_devices = {}
        setting = settings.neural_device
        if setting not in cache:
            cache[setting] = describe_device(settings)
        return cache[setting]


def describe_device(settings: Settings) -> dict[str, Any]:
    """Where neural engines run: "cpu", "cuda" or "unknown". Never raises."""
    setting = settings.neural_device
    try:
        if settings.executor != "local":
            return device_json(setting, UNKNOWN)  # the workers are on other machines
        if setting == "cpu":
            return device_json(setting, "cpu")
        if not settings.all_models:
            return device_json(setting, UNKNOWN)  # nothing would run there: not worth a probe
        if importlib.util.find_spec("torch") is None:
            return device_json(setting, UNKNOWN, problem="torch is not installed: install taxiway[neural]")
        cuda, gpu = probe_torch()
        return resolve_device(setting, cuda, gpu)
    except Exception as exc:
        log.warning("could not tell which device neural engines use: %s", exc)
        return device_json(setting, UNKNOWN, problem=f"device probe failed: {exc}"[:500])


def probe_torch() -> tuple[bool, str | None]:
    """(CUDA available, the first GPU's name) as torch sees them in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", DEVICE_PROBE],
        capture_output=True,
        text=True,
        timeout=DEVICE_PROBE_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        raise RuntimeError(last[0])
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return bool(found["cuda"]), found.get("gpu")


def resolve_device(setting: str, cuda: bool, gpu: str | None) -> dict[str, Any]:
    """What the workers' pick_device does with the setting, given what torch sees."""
    if cuda:
        return device_json(setting, "cuda", gpu)
    if setting == "cuda":
        return device_json(setting, UNKNOWN, problem="neural_device is 'cuda' but torch sees no CUDA device")
    return device_json(setting, "cpu")


def device_json(
    setting: str, resolved: str, gpu: str | None = None, problem: str | None = None
) -> dict[str, Any]:
    return {"setting": setting, "resolved": resolved, "gpu": gpu, "problem": problem}
