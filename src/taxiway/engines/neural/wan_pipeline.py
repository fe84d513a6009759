"""A Wan VACE diffusers pipeline: loaded from a user's folder, tuned for speed and memory, and run
one window at a time with progress and cancellation.

Loading is exactly ``WanVACEPipeline.from_pretrained(folder)``: the layout diffusers writes with
``save_pretrained`` and the Hub's ``Wan-AI/Wan2.1-VACE-1.3B-diffusers`` folders use. On a GPU the
transformer and text encoder run in the configured dtype (bfloat16 by default) and the VAE in
float32, as Wan's authors advise (its decoder loses colour accuracy in half precision); the CPU
runs everything in float32. ``tune`` applies the speed options (attention backend, First Block
Cache, compilation of the repeated blocks) and memory options (CPU offload, VAE tiling); the
benchmark calls the same function, so what it measures is what the engine runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from taxiway.core.model_config import WanVaceModel
from taxiway.engines.neural.devices import ModelLoadError, out_of_memory

log = logging.getLogger(__name__)

PIPELINE_CLASSES = ("WanVACEPipeline",)


def _dtype(name: str, device: str) -> Any:
    import torch

    return torch.float32 if device == "cpu" else getattr(torch, name)


def load_pipeline(path: Path, config: WanVaceModel, device: str) -> Any:
    """``WanVACEPipeline`` from the diffusers folder ``path``, on ``device``, tuned by ``config``.

    Raises ModelLoadError for a missing folder, a folder of another pipeline, or broken weights.
    """
    import torch
    from diffusers import AutoencoderKLWan, WanVACEPipeline

    index = path / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(
            f"No diffusers model folder at {path}: it has no model_index.json "
            "(download e.g. Wan-AI/Wan2.1-VACE-1.3B-diffusers there)."
        )
    try:
        pipeline_class = json.loads(index.read_text()).get("_class_name")
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"The model folder {path} has an unreadable model_index.json: {exc}") from exc
    if pipeline_class not in PIPELINE_CLASSES:
        raise ModelLoadError(
            f"The model folder {path} holds a {pipeline_class} pipeline; the wan-vace engine runs "
            f"{', '.join(PIPELINE_CLASSES)} folders (Wan2.1-VACE 1.3B / 14B, Wan2.2 VACE-Fun)."
        )
    dtype = _dtype(config.dtype, device)
    try:
        vae = AutoencoderKLWan.from_pretrained(path, subfolder="vae", dtype=_dtype("float32", device))
        pipe = WanVACEPipeline.from_pretrained(path, vae=vae, dtype=dtype)
    except Exception as exc:  # Missing components, truncated shards, mismatched shapes, ...
        raise ModelLoadError(
            f"The model folder {path} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    try:
        tune(pipe, config, device)
    except torch.cuda.OutOfMemoryError as exc:
        raise out_of_memory(
            f"loading {path}", 'set cpu_offload = "model" (or "sequential") for this model'
        ) from exc
    return pipe


def tune(pipe: Any, config: WanVaceModel, device: str) -> None:
    """Place ``pipe`` on ``device`` and apply the model's memory and speed settings."""
    if device == "cpu" or config.cpu_offload == "none":
        pipe.to(device)
    elif config.cpu_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
    if config.vae_tiling:
        pipe.vae.enable_tiling()
    if config.compile and device != "cpu" and config.first_block_cache > 0:
        # Its hooks decide per step whether the other blocks run: a full graph cannot be traced
        # through them, and a partial one recompiles on every step.
        log.warning("compile is off for this model: it does not combine with first_block_cache")
    # Wan2.2 folders have a second transformer for the low-noise steps: tune both alike.
    for transformer in (pipe.transformer, getattr(pipe, "transformer_2", None)):
        if transformer is None:
            continue
        if config.attention_backend:
            try:
                transformer.set_attention_backend(config.attention_backend)
            except Exception as exc:  # Unknown name, or its kernels are not installed on this worker.
                raise ModelLoadError(
                    f"attention_backend {config.attention_backend!r} cannot be used here: {exc}"
                ) from exc
        if config.first_block_cache > 0:
            from diffusers.hooks import FirstBlockCacheConfig

            transformer.enable_cache(FirstBlockCacheConfig(threshold=config.first_block_cache))
        elif config.compile and device != "cpu":
            # The 30/40 identical blocks compile once; the first task pays for it (about a minute).
            transformer.compile_repeated_blocks(fullgraph=True)


@dataclass(frozen=True)
class Window:
    """One call of the pipeline: ``video``/``mask`` are F×H×W×3 uint8 / F×H×W bool (True = generate)."""

    video: np.ndarray
    mask: np.ndarray
    prompt: str
    conditioning_scale: float = 1.0
    reference: np.ndarray | None = None  # H×W×3 uint8: an image the generated frames should follow


def generate(
    pipe: Any,
    window: Window,
    config: WanVaceModel,
    generator: Any,
    on_step: Callable[[int], None],
) -> np.ndarray:
    """Run one window; returns F×H×W×3 uint8 frames. ``on_step(i)`` after each denoising step may
    raise (StopRequested) to stop within a step; a CUDA out-of-memory becomes a clear EngineError."""
    import torch
    from PIL import Image

    frames, height, width = window.video.shape[:3]
    video = [Image.fromarray(frame) for frame in window.video]
    mask = [Image.fromarray(np.where(m, 255, 0).astype(np.uint8)) for m in window.mask]
    reference = None if window.reference is None else [Image.fromarray(window.reference)]

    def step_end(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(step)
        return tensors

    try:
        with torch.inference_mode():
            result = pipe(
                prompt=window.prompt,
                negative_prompt=config.negative_prompt or None,
                video=video,
                mask=mask,
                reference_images=reference,
                conditioning_scale=window.conditioning_scale,
                height=height,
                width=width,
                num_frames=frames,
                num_inference_steps=config.steps,
                guidance_scale=config.guidance_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=step_end,
            )
    except torch.cuda.OutOfMemoryError as exc:
        raise out_of_memory(
            f"generating {frames} frames of {width}×{height}",
            'set cpu_offload = "model" and vae_tiling = true for this model, lower max_frames, or use 480p',
        ) from exc
    out = np.asarray(result.frames[0])  # the pipeline drops the reference image's frames
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
