"""Which device this server's workers run neural engines on, and so what requests get by default.

torch is never imported here: the GPUs are counted once, lazily, by a short-lived child Python
process, which keeps torch's libraries and a CUDA context out of the API server. The answer is
what a freshly spawned worker of this machine would see (the same environment, so the same
``CUDA_VISIBLE_DEVICES``). Only the local executor's workers run here; Ray's and a separate
dispatcher's run on machines this process cannot see.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from taxiway.core.settings import Settings

log = logging.getLogger(__name__)

UNKNOWN = "unknown"

# Run in a fresh interpreter: what a freshly spawned worker would see.
DEVICE_PROBE = (
    "import json, torch\n"
    "count = torch.cuda.device_count() if torch.cuda.is_available() else 0\n"
    "name = torch.cuda.get_device_name(0) if count else None\n"
    "print(json.dumps({'cuda': count > 0, 'gpu': name, 'count': count}))\n"
)
DEVICE_PROBE_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class TorchDevices:
    """What torch sees in a fresh interpreter of this machine."""

    gpus: int  # CUDA devices (0: none)
    gpu_name: str | None  # the first one's

    @property
    def cuda(self) -> bool:
        return self.gpus > 0


def probe_torch() -> TorchDevices:
    """Ask torch in a child interpreter. Raises on any failure (no torch, a broken driver, a timeout)."""
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
    cuda = bool(found["cuda"])
    return TorchDevices(gpus=int(found.get("count", 1 if cuda else 0)), gpu_name=found.get("gpu"))


def visible_gpu_ids(count: int) -> list[str]:
    """The ids to pin workers to, one per GPU torch sees, as CUDA_VISIBLE_DEVICES spells them."""
    listed = [part.strip() for part in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if part.strip()]
    if "CUDA_VISIBLE_DEVICES" in os.environ and len(listed) >= count:
        return listed[:count]  # already narrowed (by an operator, or by Ray): keep its spelling
    return [str(index) for index in range(count)]


class Devices:
    """This process's view of the neural device, probed at most once and shared by its threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._probed = False
        self._torch: TorchDevices | None = None
        self._problem: str | None = None

    @property
    def probe_applies(self) -> bool:
        """Whether torch's view here matters: local workers that may put neural models on a GPU."""
        settings = self.settings
        return self.neural_runs_here and settings.neural_device != "cpu" and bool(settings.all_models)

    @property
    def neural_runs_here(self) -> bool:
        """Whether this process's workers run neural tasks (not Ray's, nor those left to others)."""
        return self.settings.executor == "local" and self.settings.run_neural

    def torch(self) -> tuple[TorchDevices | None, str | None]:
        """(what torch sees, None) or (None, why it could not be told); probes on the first call."""
        with self._lock:  # concurrent first callers wait for the one probe, then share it
            if not self._probed:
                self._torch, self._problem = self._probe()
                self._probed = True
            return self._torch, self._problem

    def _probe(self) -> tuple[TorchDevices | None, str | None]:
        if importlib.util.find_spec("torch") is None:
            return None, "torch is not installed: install taxiway[neural]"
        try:
            found = probe_torch()
        except Exception as exc:
            log.warning("could not tell which device neural engines use: %s", exc)
            return None, f"device probe failed: {exc}"[:500]
        log.info("neural device probe: %d GPU(s) %s", found.gpus, found.gpu_name or "")
        return found, None

    def local_gpus(self) -> int:
        """GPUs the local workers would see (0 when none, when not probed for, or when unknown)."""
        if not self.probe_applies:
            return 0
        found, _ = self.torch()
        return found.gpus if found is not None else 0

    def neural_by_default(self) -> bool:
        """Whether a request that names no model may get a configured neural model.

        Not when ``neural_device = "auto"`` and the local workers have no GPU (or it cannot be
        told): the classical engines are the fallback then, and naming a model still runs it on the
        CPU. ``"cpu"`` and ``"cuda"`` are explicit choices, and workers elsewhere (Ray, a separate
        dispatcher, or any when ``run_neural`` is off) are taken to have the GPUs their operator
        configured models for.
        """
        if not self.probe_applies or self.settings.neural_device != "auto":
            return True
        found, _ = self.torch()
        return found is not None and found.cuda

    def describe(self) -> dict[str, Any]:
        """The engines endpoint's device block: where neural engines run ("cpu", "cuda", "unknown")."""
        setting = self.settings.neural_device
        if not self.neural_runs_here:
            return device_json(setting, UNKNOWN)  # the workers are on other machines
        if setting == "cpu":
            return device_json(setting, "cpu")
        if not self.settings.all_models:
            return device_json(setting, UNKNOWN)  # nothing would run there: not worth a probe
        found, problem = self.torch()
        if found is None:
            return device_json(setting, UNKNOWN, problem=problem)
        return resolve_device(setting, found.cuda, found.gpu_name)


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
