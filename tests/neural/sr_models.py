"""Tiny randomly-initialised SR checkpoints, built with spandrel's own architecture classes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_MISSING = [name for name in ("torch", "spandrel", "safetensors") if importlib.util.find_spec(name) is None]
if _MISSING:
    # A visible skip of every module that imports this one (tests/conftest.py makes it a failure
    # under TAXIWAY_REQUIRE_NEURAL=1).
    pytest.skip(
        f"the neural extra is not installed ({', '.join(_MISSING)} missing): pip install -e '.[neural]'",
        allow_module_level=True,
    )

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402


def tiny_compact(scale: int = 4, seed: int = 0) -> torch.nn.Module:
    """SRVGGNetCompact (realesr-general / animevideov3 family) with 8 features and 2 convs."""
    torch.manual_seed(seed)
    return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=scale)


def tiny_esrgan(scale: int = 2, seed: int = 0) -> torch.nn.Module:
    """RRDBNet (Real-ESRGAN x2plus family) with 8 filters and 1 block."""
    torch.manual_seed(seed)
    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)


def save_checkpoint(model: torch.nn.Module, path: Path) -> Path:
    """Save the state dict as a user's download would be: .safetensors or .pth."""
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path
