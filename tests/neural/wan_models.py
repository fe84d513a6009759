"""A tiny randomly-initialised Wan VACE pipeline, saved as a diffusers folder like a user's download.

The component sizes are diffusers' own test sizes; the tokenizer is ByT5 (byte-level, no vocabulary
files), so nothing is downloaded. Loading it back goes through WanVACEPipeline.from_pretrained.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from support import Server

_MISSING = [
    name
    for name in ("torch", "diffusers", "transformers", "accelerate", "ftfy")
    if importlib.util.find_spec(name) is None
]
if _MISSING:
    # A visible skip (tests/conftest.py makes it a failure under TAXIWAY_REQUIRE_NEURAL=1).
    pytest.skip(
        f"the neural extra is not installed ({', '.join(_MISSING)} missing): pip install -e '.[neural]'",
        allow_module_level=True,
    )

import torch  # noqa: E402

# The transformer sizes of diffusers' own Wan tests.
TRANSFORMER_SIZES: dict[str, Any] = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    in_channels=16,
    out_channels=16,
    text_dim=32,
    freq_dim=256,
    ffn_dim=32,
    num_layers=3,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    rope_max_seq_len=32,
)


def _shared_components(seed: int) -> dict[str, Any]:
    """Tokenizer, text encoder, VAE and scheduler: the same in every Wan pipeline."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler
    from transformers import ByT5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    tokenizer = ByT5Tokenizer()
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    # Wan's folders ship UniPC with flow sigmas, as here.
    scheduler = UniPCMultistepScheduler(
        flow_shift=3.0, prediction_type="flow_prediction", use_flow_sigmas=True
    )
    return dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler)


def save_tiny_wan_vace(folder: Path, seed: int = 0, *, two_stage: bool = False) -> Path:
    """Build the tiny VACE pipeline with random weights and ``save_pretrained`` it into ``folder``.

    ``two_stage``: a Wan2.2-style folder (VACE-Fun A14B layout): a second transformer for the
    low-noise steps and the boundary between them.
    """
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    components = _shared_components(seed)
    sizes = TRANSFORMER_SIZES | {"vace_layers": [0, 2], "vace_in_channels": 96}
    transformer = WanVACETransformer3DModel(**sizes)
    second = WanVACETransformer3DModel(**sizes) if two_stage else None
    pipe = WanVACEPipeline(
        **components,
        transformer=transformer,
        transformer_2=second,
        boundary_ratio=0.875 if two_stage else None,
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_wan_t2v(folder: Path, seed: int = 0) -> Path:
    """A tiny Wan2.1 text-to-video folder (``WanPipeline``, as the Hub's T2V folders are saved)."""
    from diffusers import WanPipeline, WanTransformer3DModel

    components = _shared_components(seed)
    WanPipeline(**components, transformer=WanTransformer3DModel(**TRANSFORMER_SIZES)).save_pretrained(folder)
    return folder


def wan_clip(path: Path) -> Path:
    """The source the Wan tests generate from: 1.5 s of 64×48 at 24 fps, with sound."""
    from mediafiles import make_video

    return make_video(path, width=64, height=48, seconds=1.5, fps=24, audio=True)


def start_wan_server(data_dir: Path, models: dict[str, Any], **settings: Any) -> Server:
    """A server whose worker runs ``models`` on the CPU.

    It uses the product's 30 s lease, not the tests' 4 s: torch saturating the CPU can delay this
    process's lease renewals by seconds, and no Wan test is about lease expiry.
    """
    from support import Server, free_port, settings_for_test

    values = settings_for_test(
        data_dir, port=free_port(), models=models, neural_device="cpu", lease_seconds=30.0, **settings
    )
    return Server(values).start()
