"""Benchmark: the wan-vace engine's settings against diffusers' default WanVACEPipeline call.

Full-size Wan2.1-VACE-1.3B with random weights (the real checkpoint's compute): the transformer from
the published config (12 heads × 128, 30 layers, ffn 8960, VACE after layers 0, 2, ..., 28; 2.15 B
parameters, 0.73 B of them VACE), the Wan2.1 VAE (``AutoencoderKLWan()`` defaults), UniPC with flow
shift 3.0. ``--model 14b``: 40 heads, 40 layers, ffn 13824, VACE after 0, 5, ..., 35 (diffusers'
class defaults; public loaders of the original Wan2.1-VACE-14B checkpoint infer the same layers).
Random ``prompt_embeds`` (1×512×4096) replace the UMT5 encoder (run once per window, not per step):
the pipeline has no tokenizer or text encoder.
The window is expand-like (gray frames, a moving picture in the middle, the mask white around it),
832×480 × 81 frames, guidance 5.0 (two transformer passes per step), one seed for all.

- baseline: diffusers' documented usage: transformer bf16, VAE float32, ``pipe.to("cuda")``,
  default attention (PyTorch SDPA), eager;
- ours: the engine's ``tune`` with compile=True and the fastest attention backend that runs here
  (candidates timed eagerly on one transformer pass at the benchmark's shape);
- ours+fbc: the same attention backend plus First Block Cache 0.05 (an opt-in quality trade), and
  so no compile (``tune`` does not combine them): with random weights its skip rate is not the real
  checkpoint's, so never the headline.

Each variant makes a 2-step warm-up call (compilation; printed apart), then one timed call of --steps.
Printed: s/step, VAE encode (before the first step) and decode (after the last) s, total s, the
50-step total extrapolated from them, peak GPU memory, the ratio to the baseline (< 1 is faster) and
whether the goal (ours ≤ 90 s at 832×480 × 81, 50 steps, on an H100) is met.

    PYTHONPATH=src python bench/bench_wan_vace.py [--model 1.3b|14b] [--steps 50] [--variants baseline,ours]
    PYTHONPATH=src python bench/bench_wan_vace.py --tiny          # CPU check: test sizes, 64×64 × 17, 2 steps
    PYTHONPATH=src python bench/bench_wan_vace.py --count-params  # builds on the meta device
    PYTHONPATH=src python bench/bench_wan_vace.py --count-flops   # the goal's FLOPs, on the meta device
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from argparse import RawDescriptionHelpFormatter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
from common import H100_DENSE_BF16_TFLOPS, count_tflops, machine_line, required_throughput
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel
from PIL import Image

from taxiway.core.model_config import WanVaceModel
from taxiway.engines.neural.wan_pipeline import tune

FULL = {
    "patch_size": (1, 2, 2), "attention_head_dim": 128, "in_channels": 16, "out_channels": 16,
    "text_dim": 4096, "freq_dim": 256, "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6, "rope_max_seq_len": 1024, "vace_in_channels": 96,
}  # fmt: skip
SIZES = {
    "1.3b": {"num_attention_heads": 12, "num_layers": 30, "ffn_dim": 8960, "vace_layers": [*range(0, 30, 2)]},
    "14b": {"num_attention_heads": 40, "num_layers": 40, "ffn_dim": 13824, "vace_layers": [*range(0, 40, 5)]},
}
# diffusers' own test sizes (as in tests/neural/wan_models.py).
TINY = {
    "patch_size": (1, 2, 2), "num_attention_heads": 2, "attention_head_dim": 12, "in_channels": 16,
    "out_channels": 16, "text_dim": 32, "freq_dim": 256, "ffn_dim": 32, "num_layers": 3,
    "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 32,
    "vace_layers": [0, 2], "vace_in_channels": 96,
}  # fmt: skip
TINY_VAE = {"base_dim": 3, "z_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1,
            "temperal_downsample": [False, True, True]}  # fmt: skip
ATTENTION_CANDIDATES = ("_native_cudnn", "_flash_3", "flash", "_native_flash", "native")
VARIANTS = ("baseline", "ours", "ours+fbc")
GOAL_S, GOAL_STEPS, TEXT_TOKENS = 90.0, 50, 512


def build_transformer(sizes: dict[str, Any], device: str, dtype: torch.dtype) -> WanVACETransformer3DModel:
    """Random weights made on ``device`` in ``dtype`` (14B in float32 would fill an 80 GB GPU), then the
    modules ``from_pretrained(dtype=...)`` keeps in float32 cast back to it."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = WanVACETransformer3DModel(**sizes)
    finally:
        torch.set_default_dtype(default)
    keep = model._keep_in_fp32_modules or []
    for name, param in model.named_parameters():
        if any(k in name.split(".") for k in keep):
            param.data = param.data.float()
    return model.eval()


def build_pipeline(sizes: dict[str, Any], vae_sizes: dict[str, Any], device: str, dtype: torch.dtype) -> Any:
    torch.manual_seed(0)  # the same weights for every variant
    model = build_transformer(sizes, device, dtype)
    with torch.device(device):
        vae = AutoencoderKLWan(**vae_sizes).eval()  # float32, as Wan's authors advise
    flow = UniPCMultistepScheduler(flow_shift=3.0, prediction_type="flow_prediction", use_flow_sigmas=True)
    pipe = WanVACEPipeline(tokenizer=None, text_encoder=None, vae=vae, scheduler=flow, transformer=model)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def expand_window(width: int, height: int, frames: int) -> tuple[list[Image.Image], list[Image.Image]]:
    """Gray frames with a moving picture in the middle half; the mask is white (generate) around it."""
    video = np.full((frames, height, width, 3), 127, np.uint8)
    mask = np.full((frames, height, width), 255, np.uint8)
    h, w = height // 2, width // 2
    top, left = (height - h) // 2, (width - w) // 2
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(0).integers(-24, 24, (h, w, 3))
    for i in range(frames):
        ramp = (xx * 255 // max(w - 1, 1) + yy + 4 * i) % 256
        video[i, top : top + h, left : left + w] = np.clip(ramp[..., None] + noise, 0, 255)
        mask[i, top : top + h, left : left + w] = 0
    return [Image.fromarray(f) for f in video], [Image.fromarray(m) for m in mask]


def clock(device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def call(pipe: Any, inputs: dict[str, Any], steps: int, on_step: Any = None) -> np.ndarray:
    """The pipeline call ``wan_pipeline.generate`` makes, with embeddings in place of the prompt."""

    def step_end(_pipe: Any, _step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        if on_step is not None:
            on_step()
        return tensors

    generator = torch.Generator(pipe._execution_device).manual_seed(0)
    with torch.inference_mode():
        result = pipe(**inputs, num_inference_steps=steps, generator=generator, callback_on_step_end=step_end)
    return np.asarray(result.frames[0])


@dataclass(frozen=True)
class Result:
    warmup: float
    per_step: float
    encode: float  # conditioning VAE encode and preparation, before the first step
    decode: float  # VAE decode and post-processing, after the last step
    total: float
    steps: int
    peak_gib: float | None

    def at(self, steps: int) -> float:
        return self.total + (steps - self.steps) * self.per_step


def time_variant(pipe: Any, inputs: dict[str, Any], steps: int, device: str) -> Result:
    start = clock(device)
    call(pipe, inputs, 2)
    warmup = clock(device) - start
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stamps: list[float] = []
    start = clock(device)
    frames = call(pipe, inputs, steps, lambda: stamps.append(clock(device)))
    end = clock(device)
    expected = (inputs["num_frames"], inputs["height"], inputs["width"], 3)
    if frames.shape != expected or not np.isfinite(frames).all():
        raise RuntimeError(f"bad output: shape {frames.shape}, expected {expected}, or not finite")
    per_step = (stamps[-1] - stamps[0]) / (len(stamps) - 1)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    return Result(warmup, per_step, stamps[0] - start - per_step, end - stamps[-1], end - start, steps, peak)


def pick_attention_backend(pipe: Any, inputs: dict[str, Any], device: str) -> str:
    """The fastest of ATTENTION_CANDIDATES that runs here, timed eagerly on one transformer pass."""
    model, cfg, spatial = pipe.transformer, pipe.transformer.config, pipe.vae_scale_factor_spatial
    dt = model.dtype
    latent_frames = (inputs["num_frames"] - 1) // pipe.vae_scale_factor_temporal + 1
    shape = (latent_frames, inputs["height"] // spatial, inputs["width"] // spatial)
    args = {
        "hidden_states": torch.randn(1, cfg.in_channels, *shape, device=device, dtype=dt),
        "control_hidden_states": torch.randn(1, cfg.vace_in_channels, *shape, device=device, dtype=dt),
        "encoder_hidden_states": inputs["prompt_embeds"],
        "timestep": torch.tensor([500], device=device),
        "return_dict": False,
    }
    best, best_s = "", float("inf")
    for name in ATTENTION_CANDIDATES:
        try:
            model.set_attention_backend(name)
            with torch.inference_mode():
                model(**args)  # kernels load and autotune untimed
                start = clock(device)
                model(**args)
                seconds = clock(device) - start
        except Exception as exc:  # Not installed, or no kernel for this device / dtype / shape.
            print(f"  attention {name:>14}: unusable ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})")
            continue
        print(f"  attention {name:>14}: {seconds:.3f} s per transformer pass")
        if seconds < best_s:
            best, best_s = name, seconds
    model.reset_attention_backend()
    return best


def count_params(model: str) -> int:
    transformer = build_transformer(FULL | SIZES[model], "meta", torch.bfloat16)
    total = sum(p.numel() for p in transformer.parameters())
    vace_modules = (transformer.vace_blocks, transformer.vace_patch_embedding)
    vace = sum(p.numel() for m in vace_modules for p in m.parameters())
    with torch.device("meta"):
        vae = sum(p.numel() for p in AutoencoderKLWan().parameters())
    print(
        f"Wan2.1-VACE-{model.upper()} transformer: {total / 1e9:.3f} B parameters ({total:,}); VACE part "
        f"{vace / 1e9:.3f} B ({len(transformer.vace_blocks)} blocks); Wan2.1 VAE {vae / 1e6:.1f} M"
    )
    return 0


def transformer_tflop(sizes: dict[str, Any], width: int, height: int, frames: int) -> dict[str, float]:
    """One transformer pass at this window's shape, counted on the meta device (TFLOP per aten op)."""
    transformer = build_transformer(sizes, "meta", torch.bfloat16)
    latent = ((frames - 1) // 4 + 1, height // 8, width // 8)
    with torch.device("meta"):
        return count_tflops(
            lambda: transformer(
                hidden_states=torch.randn(1, sizes["in_channels"], *latent, dtype=torch.bfloat16),
                timestep=torch.tensor([500.0]),
                encoder_hidden_states=torch.randn(1, TEXT_TOKENS, sizes["text_dim"], dtype=torch.bfloat16),
                control_hidden_states=torch.randn(
                    1, sizes["vace_in_channels"], *latent, dtype=torch.bfloat16
                ),
                return_dict=False,
            )
        )


def count_flops(model: str, width: int, height: int, frames: int, steps: int) -> int:
    """The goal's work counted on the meta device: transformer passes (two per step with guidance) and
    the VACE pipeline's VAE calls (the inactive and reactive halves encoded apart, then one decode)."""
    by_op = transformer_tflop(FULL | SIZES[model], width, height, frames)
    with torch.device("meta"):
        vae = AutoencoderKLWan().eval()
        video = torch.randn(1, 3, frames, height, width)
        encode = count_tflops(lambda: vae.encode(video))
        decode = count_tflops(
            lambda: vae.decode(torch.randn(1, 16, (frames - 1) // 4 + 1, height // 8, width // 8))
        )
    one_pass = sum(by_op.values())
    # On the meta device attention runs as SDPA's math path: its QKᵀ and AV are the batched matmuls.
    attention = by_op.get("aten.bmm", 0.0) / one_pass
    denoise = one_pass * 2 * steps
    print(f"Wan2.1-VACE-{model.upper()}, expand {width}×{height} × {frames} frames, {steps} steps, guidance:")
    print(f"  transformer: {one_pass:.0f} TFLOP per pass ({attention:.0%} of it attention) × 2 per step")
    print(f"    × {steps} steps = {denoise:,.0f} TFLOP (bf16)")
    vae_tflop = 2 * sum(encode.values()) + sum(decode.values())
    print(
        f"  VAE: 2 encodes + 1 decode = {vae_tflop:.0f} TFLOP (float32: TF32 tensor cores, half bf16's rate)"
    )
    print(f"  the transformer alone within {GOAL_S:g} s needs {required_throughput(denoise, GOAL_S)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=tuple(SIZES), default="1.3b")
    parser.add_argument("--tiny", action="store_true", help="diffusers' test sizes, a correctness check")
    parser.add_argument("--count-params", action="store_true", help="build on the meta device, print size")
    parser.add_argument("--count-flops", action="store_true", help="count the run's FLOPs on the meta device")
    parser.add_argument("--width", type=int, help="multiple of 16 (default 832; 64 with --tiny)")
    parser.add_argument("--height", type=int, help="multiple of 16 (default 480; 64 with --tiny)")
    parser.add_argument("--frames", type=int, help="made 4k+1 as the pipeline does (default 81; --tiny 17)")
    parser.add_argument("--steps", type=int, help=f"timed steps, ≥ 2 (default {GOAL_STEPS}; 2 with --tiny)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: %(default)s")
    args = parser.parse_args(argv)
    if args.count_params:
        return count_params(args.model)
    width, height = args.width or (64 if args.tiny else 832), args.height or (64 if args.tiny else 480)
    frames, steps = args.frames or (17 if args.tiny else 81), args.steps or (2 if args.tiny else GOAL_STEPS)
    frames = frames if frames % 4 == 1 else frames // 4 * 4 + 1
    if args.count_flops:
        return count_flops(args.model, width, height, frames, steps)
    variants = [v for v in args.variants.split(",") if v]
    if width % 16 or height % 16 or min(width, height) < 16:
        parser.error(f"--width and --height must be multiples of 16 (got {width}×{height})")
    if steps < 2:
        parser.error(f"--steps must be at least 2 to measure seconds per step (got {steps})")
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variant(s) {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:
        print("No CUDA GPU: the full-size run needs one (--tiny, --count-params run here)", file=sys.stderr)
        return 2

    diffusers.utils.logging.set_verbosity_error()  # "attention backends are experimental", every call
    dtype = torch.float32 if device == "cpu" else torch.bfloat16  # as the engine: WanVaceModel.dtype
    sizes, vae_sizes = (TINY, TINY_VAE) if args.tiny else (FULL | SIZES[args.model], {})
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "none"
    print(machine_line(), f"torch {torch.__version__}, diffusers {diffusers.__version__}, gpu: {gpu}")
    model_name = "tiny test sizes" if args.tiny else f"Wan2.1-VACE-{args.model.upper()}"
    print(
        f"{model_name}, random weights, {str(dtype).removeprefix('torch.')} transformer, float32 VAE, "
        f"on {device}: expand {width}×{height} × {frames} frames, {steps} timed steps, guidance 5.0"
    )

    video, mask = expand_window(width, height, frames)
    embeds = torch.randn(2, TEXT_TOKENS, sizes["text_dim"], generator=torch.Generator().manual_seed(0))
    inputs = {
        "prompt_embeds": embeds[:1].to(device, dtype), "negative_prompt_embeds": embeds[1:].to(device, dtype),
        "video": video, "mask": mask, "reference_images": None, "conditioning_scale": 1.0,
        "height": height, "width": width, "num_frames": frames, "guidance_scale": 5.0, "output_type": "np",
    }  # fmt: skip
    results: dict[str, Result] = {}
    backend: str | None = None
    step_tflop = 2 * sum(transformer_tflop(sizes, width, height, frames).values())  # guidance: two passes
    for name in variants:
        pipe = build_pipeline(sizes, vae_sizes, device, dtype)
        try:
            if name == "baseline":
                pipe.to(device)
            else:
                if backend is None:
                    backend = pick_attention_backend(pipe, inputs, device)
                    print(f"  attention backend for ours: {backend or 'default (no candidate ran)'}")
                fbc = 0.05 if name == "ours+fbc" else 0.0
                config = WanVaceModel(
                    engine="wan-vace", path=Path("random-weights"), compile=True,
                    attention_backend=backend, first_block_cache=fbc,
                )  # fmt: skip
                tune(pipe, config, device)
            r = results[name] = time_variant(pipe, inputs, steps, device)
        except Exception as exc:  # Report and go on: one broken variant should not hide the others.
            print(f"{name:>9}: FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
            continue
        finally:
            del pipe
            gc.collect()
            torch._dynamo.reset()
            if device == "cuda":
                torch.cuda.empty_cache()
        peak = f"{r.peak_gib:.2f} GiB" if r.peak_gib is not None else "n/a (cpu)"
        # The transformer's counted work per step over its time (First Block Cache skips some of it).
        rate = step_tflop / r.per_step
        print(
            f"{name:>9}: warm-up {r.warmup:6.1f} s | {r.per_step:6.3f} s/step | encode {r.encode:5.2f} s | "
            f"decode {r.decode:5.2f} s | total {r.total:6.1f} s ({steps} steps) | "
            f"{GOAL_STEPS} steps ≈ {r.at(GOAL_STEPS):6.1f} s | peak {peak} | {rate:.3g} TFLOP/s per step "
            f"({rate / H100_DENSE_BF16_TFLOPS:.0%} of an H100's dense bf16 peak)"
        )

    if "baseline" in results:
        for name in (v for v in results if v != "baseline"):
            ratio = results[name].at(GOAL_STEPS) / results["baseline"].at(GOAL_STEPS)
            note = "" if name == "ours" else " (opt-in quality trade, not the headline)"
            print(f"ratio {name} / baseline ({GOAL_STEPS}-step total): {ratio:.3f}{note}")
    if "ours" in results and not args.tiny and (args.model, width, height, frames) == ("1.3b", 832, 480, 81):
        ours = results["ours"].at(GOAL_STEPS)
        how = "measured" if steps == GOAL_STEPS else f"extrapolated from {steps} steps"
        verdict = "met" if ours <= GOAL_S else "NOT met"
        print(f"goal: ours ≤ {GOAL_S:.0f} s, {GOAL_STEPS} steps, 832×480 × 81 on an H100: {verdict} "
              f"({ours:.1f} s {how}, on {gpu})")  # fmt: skip
    return 0 if len(results) == len(variants) else 1


if __name__ == "__main__":
    sys.exit(main())
