"""A Wan diffusers pipeline: loaded from a user's folder, tuned for speed and memory, and run one
window at a time with progress and cancellation.

Loading is exactly ``WanVACEPipeline.from_pretrained(folder)`` for the wan-vace engine and
``WanVideoToVideoPipeline.from_pretrained(folder)`` for the wan engine (a Wan2.1 T2V folder): the
layout diffusers writes with ``save_pretrained`` and the Hub's ``Wan-AI/*-diffusers`` folders use.
The prompt is encoded once per task (``encode_prompt``) and every window reuses it. On a GPU the
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

from taxiway.core.model_config import AnyWanModel
from taxiway.engines.neural.devices import ModelLoadError, out_of_memory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineKind:
    accepts: tuple[str, ...]  # the folders it runs: model_index.json's _class_name
    runs_with: str  # the diffusers pipeline class that runs them
    example: str  # a Hub folder to download


PIPELINES = {
    "wan-vace": PipelineKind(("WanVACEPipeline",), "WanVACEPipeline", "Wan-AI/Wan2.1-VACE-1.3B-diffusers"),
    "wan": PipelineKind(
        accepts=("WanPipeline", "WanVideoToVideoPipeline"),
        runs_with="WanVideoToVideoPipeline",
        example="Wan-AI/Wan2.1-T2V-1.3B-diffusers",
    ),
}
# The engine kind that runs each folder class, to point a misconfigured model at the right one.
ENGINE_OF_CLASS = {name: kind for kind, pipeline in PIPELINES.items() for name in pipeline.accepts}


def _dtype(name: str, device: str) -> Any:
    import torch

    return torch.float32 if device == "cpu" else getattr(torch, name)


def _read_index(path: Path, kind: str) -> dict[str, Any]:
    """The folder's model_index.json, checked to be one the ``kind`` engine runs."""
    accepted, example = PIPELINES[kind].accepts, PIPELINES[kind].example
    index = path / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(
            f"No diffusers model folder at {path}: it has no model_index.json "
            f"(download e.g. {example} there)."
        )
    try:
        content = json.loads(index.read_text())
        pipeline_class = content.get("_class_name")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelLoadError(f"The model folder {path} has an unreadable model_index.json: {exc}") from exc
    if pipeline_class not in accepted:
        other = ENGINE_OF_CLASS.get(pipeline_class)
        hint = f' (engine = "{other}" runs it)' if other else ""
        raise ModelLoadError(
            f"The model folder {path} holds a {pipeline_class} pipeline{hint}; the {kind} engine runs "
            f"{' or '.join(accepted)} folders."
        )
    if kind == "wan" and (_component(content, "transformer_2") or content.get("expand_timesteps")):
        # WanVideoToVideoPipeline has one transformer and Wan2.1's timestep embedding.
        raise ModelLoadError(
            f"The model folder {path} is a Wan2.2 model (A14B or TI2V-5B), which diffusers' "
            "WanVideoToVideoPipeline does not run; use a Wan2.1 T2V folder, or a VACE model."
        )
    return content


def _component(index: dict[str, Any], name: str) -> bool:
    entry = index.get(name)
    return isinstance(entry, list) and any(entry)


def load_pipeline(path: Path, config: AnyWanModel, device: str) -> Any:
    """The ``config.engine`` kind's pipeline from the diffusers folder ``path``, on ``device``, tuned.

    Raises ModelLoadError for a missing folder, a folder of another pipeline, or broken weights.
    """
    import diffusers
    import torch

    _read_index(path, config.engine)
    pipeline_class = getattr(diffusers, PIPELINES[config.engine].runs_with)
    dtype = _dtype(config.dtype, device)
    try:
        vae = diffusers.AutoencoderKLWan.from_pretrained(
            path, subfolder="vae", dtype=_dtype("float32", device)
        )
        pipe = pipeline_class.from_pretrained(path, vae=vae, dtype=dtype)
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


def tune(pipe: Any, config: AnyWanModel, device: str) -> None:
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
    if config.attention_backend and device == "cpu":
        log.warning("attention_backend %r is not used on the CPU", config.attention_backend)
    # Wan2.2 folders have a second transformer for the low-noise steps: tune both alike.
    for transformer in (pipe.transformer, getattr(pipe, "transformer_2", None)):
        if transformer is None:
            continue
        if config.attention_backend and device != "cpu":  # its kernels are GPU kernels
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


# The pipelines' own default text length; embeddings computed here must match it.
MAX_SEQUENCE_LENGTH = 512


def encode_prompt(pipe: Any, prompt: str, config: AnyWanModel) -> dict[str, Any]:
    """The prompt's and negative prompt's embeddings, as pipeline arguments. Computed once per task
    so the text encoder (5 B parameters in Wan's umT5) runs once, not once per window."""
    import torch

    try:
        with torch.inference_mode():
            positive, negative = pipe.encode_prompt(
                prompt,
                config.negative_prompt or None,
                do_classifier_free_guidance=config.guidance_scale > 1,
                max_sequence_length=MAX_SEQUENCE_LENGTH,
                device=pipe._execution_device,  # where offloading puts the encoder too
            )
    except torch.cuda.OutOfMemoryError as exc:
        raise out_of_memory("encoding the prompt", 'set cpu_offload = "model" for this model') from exc
    return {"prompt_embeds": positive, "negative_prompt_embeds": negative}


@dataclass(frozen=True)
class Window:
    """One call of the pipeline on ``video`` (F×H×W×3 uint8).

    VACE (wan-vace) takes a ``mask`` (F×H×W bool, True = generate) and follows the video by
    ``conditioning_scale``; plain Wan (wan, ``mask`` None) re-noises the video by ``strength``
    (the share of the denoising schedule it runs) and redraws it.
    """

    video: np.ndarray
    mask: np.ndarray | None
    conditioning_scale: float = 1.0
    strength: float = 1.0


def generate(
    pipe: Any,
    window: Window,
    config: AnyWanModel,
    prompt: dict[str, Any],
    generator: Any,
    on_step: Callable[[int], None],
) -> np.ndarray:
    """Run one window with the ``encode_prompt`` embeddings ``prompt``; returns F×H×W×3 uint8 frames.
    ``on_step(i)`` after each denoising step may raise (StopRequested) to stop within a step; a CUDA
    out-of-memory becomes a clear EngineError."""
    import torch
    from PIL import Image

    frames, height, width = window.video.shape[:3]
    inputs: dict[str, Any] = {"video": [Image.fromarray(frame) for frame in window.video]}
    if window.mask is None:
        inputs["strength"] = window.strength
    else:
        inputs["mask"] = [Image.fromarray(np.where(m, 255, 0).astype(np.uint8)) for m in window.mask]
        inputs["conditioning_scale"] = window.conditioning_scale
        inputs["num_frames"] = frames

    def step_end(_pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        on_step(step)
        return tensors

    try:
        with torch.inference_mode():
            result = pipe(
                **inputs,
                **prompt,
                height=height,
                width=width,
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
    out = np.asarray(result.frames[0])
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
