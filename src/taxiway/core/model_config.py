"""How operators configure neural models: one entry per checkpoint, in TOML or as JSON in the environment.

    models_dir = "/srv/models"

    [models.x4plus]
    engine = "spandrel"
    path = "RealESRGAN_x4plus.pth"            # relative to models_dir, or absolute
    temporal_smoothing = 0.7                  # optional: steadier video, less flicker (0 = off)

    [models.wan-1-3b]
    engine = "wan-vace"
    path = "Wan2.1-VACE-1.3B-diffusers"       # a diffusers folder (model_index.json)
    operations = ["expand", "extend"]         # default: every operation the engine can do

    [models.wan-t2v]
    engine = "wan"                            # a plain Wan text-to-video folder: video to video only
    path = "Wan2.1-T2V-1.3B-diffusers"

Pure data: nothing here imports a model library, so the API process can validate and list models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# What each engine kind can do. The classic engines cover every operation.
ENGINE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "spandrel": ("upscale",),
    "wan-vace": ("expand", "extend", "video_to_video"),
    "wan": ("video_to_video",),
}
OPERATIONS = ("upscale", "video_to_video", "expand", "extend")
# The highest temporal_smoothing of a spandrel model (at 1 a still area would never change again).
MAX_TEMPORAL_SMOOTHING = 0.9


class _ModelBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str
    path: Path
    # Operations this model serves; empty = all its engine can do.
    operations: tuple[str, ...] = ()

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [op for op in value if op not in OPERATIONS]
        if unknown:
            raise ValueError(f"unknown operation(s) {unknown}; known: {', '.join(OPERATIONS)}")
        return value

    @model_validator(mode="after")
    def _operations_supported(self) -> _ModelBase:
        kind = self.engine
        supported = ENGINE_OPERATIONS[kind]
        extra = [op for op in self.operations if op not in supported]
        if extra:
            raise ValueError(f"a {kind} model cannot do {extra}; it does {', '.join(supported)}")
        return self

    def serves(self) -> tuple[str, ...]:
        kind = self.engine
        return self.operations or ENGINE_OPERATIONS[kind]


class SpandrelModel(_ModelBase):
    """A single-image super-resolution checkpoint (.pth / .safetensors) that spandrel recognises."""

    engine: Literal["spandrel"]
    # torch.compile of the network: faster calls after the first of each frame (or tile) size, which
    # pays for the compilation (tens of seconds).
    compile: bool = False
    # Steadies the output video (single-image models flicker: the detail they invent changes from
    # frame to frame): each output frame is blended with the previous one, warped along the optical
    # flow of the source frames, with this weight where that flow is reliable; occluded or newly
    # seen areas and scene cuts are not blended. 0 = off (the default; the output is each frame's
    # own); up to 0.9; 0.7 is what bench/bench_sr_quality.py measures (BENCHMARKS.md). See
    # engines/neural/temporal.py.
    temporal_smoothing: float = Field(default=0.0, ge=0, le=MAX_TEMPORAL_SMOOTHING)


class _WanModelBase(_ModelBase):
    """What every Wan diffusers model is configured by: sizes, sampling, memory and speed."""

    # The short side of generated frames (the long side follows the aspect ratio): "480p", "720p",
    # or a number of pixels, a multiple of 16 (e.g. 256 for quick drafts).
    resolution: Literal["480p", "720p"] | Annotated[int, Field(ge=64, le=2048, multiple_of=16)] = "480p"
    steps: int = Field(default=50, ge=1, le=200)
    guidance_scale: float = Field(default=5.0, ge=0, le=30)
    negative_prompt: str = ""
    # The rate the model was trained at: sources are sampled at it and new frames come at it.
    fps: int = Field(default=16, ge=1, le=60)
    # Longest clip generated in one go (4k+1 frames); longer outputs are chained in windows that
    # overlap by `context_frames`: VACE starts each on the last frames of the one before, plain
    # Wan cross-fades them.
    max_frames: int = Field(default=81, ge=5, le=257)
    context_frames: int = Field(default=8, ge=1, le=64)
    # Memory: "model" moves whole components to the GPU only while they run, "sequential" moves
    # layer by layer (slowest, least memory); VAE tiling decodes big frames in tiles.
    cpu_offload: Literal["none", "model", "sequential"] = "none"
    vae_tiling: bool = False
    # Speed: the transformer's dtype on a GPU (the CPU always runs float32), diffusers' attention
    # backend ("" = PyTorch's SDPA), torch.compile of the repeated blocks, and First Block Cache:
    # skip a step's remaining blocks when the first block's output barely changed (0 = off;
    # 0.05-0.1 is faster with a small loss of detail).
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    attention_backend: str = ""
    compile: bool = False
    first_block_cache: float = Field(default=0.0, ge=0, le=1)

    @field_validator("max_frames")
    @classmethod
    def _four_k_plus_one(cls, value: int) -> int:
        if value % 4 != 1:
            raise ValueError(f"max_frames must be 4k+1 (e.g. 49, 81), got {value}")
        return value

    @model_validator(mode="after")
    def _context_fits(self) -> _WanModelBase:
        if self.context_frames > self.max_frames - 4:
            raise ValueError(
                f"context_frames ({self.context_frames}) must leave room for new frames in max_frames "
                f"({self.max_frames}): at most {self.max_frames - 4}"
            )
        return self


class WanVaceModel(_WanModelBase):
    """A Wan2.1-VACE (or Wan2.2 VACE-Fun) diffusers folder, run with diffusers' WanVACEPipeline."""

    engine: Literal["wan-vace"]


class WanModel(_WanModelBase):
    """A Wan2.1 text-to-video diffusers folder, run with diffusers' WanVideoToVideoPipeline: it
    redraws a source video (SDEdit), so it serves video to video only."""

    engine: Literal["wan"]


ModelConfig = Annotated[SpandrelModel | WanVaceModel | WanModel, Field(discriminator="engine")]
AnyWanModel = WanVaceModel | WanModel
