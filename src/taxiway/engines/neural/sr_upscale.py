"""Neural upscale: a single-image super-resolution checkpoint run with spandrel, frame by frame.

The checkpoint (``.pth`` / ``.safetensors``: Real-ESRGAN, realesr-general, SwinIR, HAT, ...) is
loaded once, when the worker builds the engine, through ``spandrel.ModelLoader`` - exactly the
path a user's file takes. Per task:

    decode thread ── batches of RGB frames ─▶ model (this thread) ── RGB frames ─▶ encode thread
    (VideoDecoder, rgb24)                     (batches, or tiles       (to the exact 4K-class size,
                                               for big frames)          yuv420p, H264Writer)

With the model setting ``temporal_smoothing`` a fourth thread sits between model and encoder: it
blends each upscaled frame with the previous one along the motion of the source frames
(``taxiway.engines.neural.temporal``), at the size the model stage hands on (the model's on the
CPU, before the Lanczos resize; the output size on a GPU, after the device resize). Its own thread
because the blend is CPU work (OpenCV) that on the model thread would keep a GPU waiting and on the
encode thread would slow the stage that already limits a GPU run.

The stages overlap through bounded handoffs (``taxiway.media.pipeline``); FFmpeg, torch and
OpenCV release the GIL. The model's own scale (x2, x4, ...) rarely lands on the contract's size,
so its output is resized to ``four_k_class(display size)``: on a GPU right after the model
(bicubic, antialiased), so that the CPU, which also encodes, copies and converts 4K frames instead
of x4 ones (5120×2880 from 720p: 1.8× the pixels); on the CPU with Lanczos in the encode thread,
like the classic engine. Audio and timestamps are carried as there. Progress is reported after every batch
(and every tile); a StopRequested from the callback stops the run within a batch and leaves no
output file.

When the GPU runs out of memory the batch is retried smaller: half the frames per call down to one,
then that frame in tiles of half its size, down to ``MIN_TILE``; what fits is remembered per frame
size for the model's later batches and tasks. Only when a ``MIN_TILE`` tile does not fit does the
task fail (OUT_OF_MEMORY).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from av.video.frame import VideoFrame

from taxiway.engines.base import EngineJob, PreviewHook, Progress, preview_hook
from taxiway.engines.classic.upscale import upscale_target
from taxiway.engines.media_errors import reencoding
from taxiway.engines.neural.devices import ModelLoadError, out_of_memory, pick_device
from taxiway.engines.neural.temporal import TemporalSmoother, check_strength
from taxiway.media.decode import DecodeError, VideoDecoder, copy_timing
from taxiway.media.encode import DEFAULT_CRF, DEFAULT_PRESET, H264Writer
from taxiway.media.pipeline import REPORT_EVERY_SECONDS, Handoff, Stages
from taxiway.media.scale import Scaler

log = logging.getLogger(__name__)

# Batches buffered between decode and model, frames between model and encoder.
QUEUE_BATCHES = 2
QUEUE_FRAMES = 8
# The smallest tile (input pixels) tried after running out of GPU memory.
MIN_TILE = 64


def load_sr_model(path: str | Path, device: str) -> Any:
    """Load ``path`` with spandrel, on ``device``, in eval mode, in the fastest dtype it supports.

    Returns spandrel's ImageModelDescriptor. Raises ModelLoadError with a readable message for a
    missing file, a corrupt one, an architecture spandrel does not know, or a model that is not a
    single-image RGB model (e.g. inpainting, video, grayscale).
    """
    import torch
    from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ModelLoadError(f"The upscale model file does not exist: {where}.")
    try:
        descriptor = ModelLoader(device=torch.device(device)).load_from_file(path)
    except UnsupportedModelError as exc:
        raise ModelLoadError(
            f"The upscale model {where} has an architecture spandrel does not recognise ({exc})."
        ) from exc
    except Exception as exc:  # A truncated or non-checkpoint file fails in torch/safetensors.
        raise ModelLoadError(
            f"The upscale model {where} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.scale < 1:
        raise ModelLoadError(
            f"The upscale model {where} is a {descriptor.architecture.name} {descriptor.purpose} model, "
            "not a single-image super-resolution model."
        )
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise ModelLoadError(
            f"The upscale model {where} takes {descriptor.input_channels} and gives "
            f"{descriptor.output_channels} channels; only RGB (3 → 3) models are supported."
        )
    descriptor.eval()
    if device == "cuda":
        if descriptor.supports_bfloat16:
            descriptor.bfloat16()
        elif descriptor.supports_half:
            descriptor.half()
        # A video's batches (and tiles) repeat one shape for thousands of calls: let cuDNN time its
        # convolution algorithms once per shape rather than take its heuristic's pick. Per process,
        # which is a neural worker's own.
        torch.backends.cudnn.benchmark = True
    if convolutional(descriptor.model):
        # NHWC: cuDNN's tensor-core convolutions and oneDNN's CPU ones run faster on it (x4plus
        # ~8 %, Compact 20-40 % on the CPU here).
        descriptor.model.to(memory_format=torch.channels_last)
    return descriptor


def convolutional(model: Any) -> bool:
    """Whether ``model`` is a plain convolutional network (ESRGAN, Compact, SPAN, ...), which gains
    from channels-last memory; transformers (SwinIR, HAT, DAT: they have Linear layers) reshape
    their activations to tokens and would pay for the layout instead."""
    import torch

    return not any(isinstance(module, torch.nn.Linear) for module in model.modules())


def model_dtype(descriptor: Any) -> Any:
    return next(descriptor.model.parameters()).dtype


def upscale_tensor(
    run: Callable[[Any], Any],
    images: Any,
    *,
    scale: int,
    tile: int = 0,
    overlap: int = 0,
    on_tile: Callable[[], None] | None = None,
) -> Any:
    """Upscale ``images`` (N×3×H×W) with ``run``; in tiles of ``tile`` input pixels when a side
    exceeds it (0 = never). Each tile reads ``overlap`` extra pixels on every side and keeps only
    its own area of the result, so tiling matches the whole-frame result away from a model's
    receptive field. ``on_tile`` is called before each tile (a cancellation point).
    """
    import torch

    n, c, h, w = images.shape
    if tile <= 0 or (h <= tile and w <= tile):
        return run(images)
    out = torch.empty((n, c, h * scale, w * scale), dtype=images.dtype, device=images.device)
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            if on_tile is not None:
                on_tile()
            y1, x1 = min(y + tile, h), min(x + tile, w)
            py0, px0 = max(y - overlap, 0), max(x - overlap, 0)
            py1, px1 = min(y1 + overlap, h), min(x1 + overlap, w)
            result = run(images[:, :, py0:py1, px0:px1])
            oy, ox = (y - py0) * scale, (x - px0) * scale
            out[:, :, y * scale : y1 * scale, x * scale : x1 * scale] = result[
                :, :, oy : oy + (y1 - y) * scale, ox : ox + (x1 - x) * scale
            ]
    return out


@dataclass(frozen=True)
class Fit:
    """How frames of one size go through the model: ``frames`` per call, in ``tile``-pixel tiles
    when a side exceeds it (0 = whole frames)."""

    frames: int
    tile: int

    def smaller(self, height: int, width: int) -> Fit | None:
        """The next thing to try after running out of memory, or None when nothing smaller is left."""
        if self.frames > 1:
            return Fit(self.frames // 2, self.tile)
        side = self.tile if 0 < self.tile < max(height, width) else max(height, width)
        return Fit(1, side // 2) if side // 2 >= MIN_TILE else None


@dataclass
class _Batch:
    frames: list[VideoFrame]  # carry pts/duration/time_base
    rgb: np.ndarray  # N×H×W×3 uint8, full range


class SpandrelUpscale:
    """Upscales ``job.video`` with a spandrel SR model to the 4K-class size → ``output.mp4``.

    ``model_path``: the checkpoint; loaded here, once (errors are ModelLoadError). ``name``: what
    tasks show in ``options.engine`` (the catalog's name for the model).
    ``device``: "auto" | "cpu" | "cuda". ``batch_size``: frames per model call. ``tile_size``:
    frames whose longer side exceeds it go through the model in tiles (0 = never), with
    ``tile_overlap`` pixels of context. ``preset``/``crf``: libx264's. ``compile``: torch.compile
    the network, for dynamic shapes (the first call compiles). ``resize_on_device``: resize to the
    output size right after the model, with torch (default: on a GPU only; on a CPU swscale's
    Lanczos is faster). ``temporal_smoothing``: the weight of the previous, motion-compensated
    output frame blended into each frame where the motion is reliable (0 = off, up to 0.9; see
    ``taxiway.engines.neural.temporal``).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        batch_size: int = 4,
        tile_size: int = 512,
        tile_overlap: int = 16,
        preset: str = DEFAULT_PRESET,
        crf: int = DEFAULT_CRF,
        encoder_threads: int = 0,
        compile: bool = False,
        resize_on_device: bool | None = None,
        temporal_smoothing: float = 0.0,
    ) -> None:
        self.temporal_smoothing = check_strength(temporal_smoothing)  # before the model loads
        self.device = pick_device(device)
        self.resize_on_device = self.device == "cuda" if resize_on_device is None else resize_on_device
        self.model = load_sr_model(model_path, self.device)
        if compile:
            # In place: spandrel's descriptor calls this module. Dynamic shapes: a short last batch,
            # an edge tile or a new source size reuses the compiled code instead of recompiling
            # (with static shapes a 6-frame clip took twice as long as uncompiled, on a CPU).
            self.model.model.compile(dynamic=True)
        self.model_path = Path(model_path)
        self.architecture = self.model.architecture.name
        self.scale = int(self.model.scale)
        self.name = name or f"spandrel:{self.model_path.name}"[:100]
        self.batch_size = max(1, batch_size)
        self.tile_size = tile_size
        self.tile_overlap = tile_overlap
        self.preset = preset
        self.crf = crf
        self.encoder_threads = encoder_threads
        self._fits: dict[tuple[int, int], Fit] = {}  # frame size -> what fitted in GPU memory
        self.channels_last = convolutional(self.model.model)  # as load_sr_model laid it out
        log.info(
            "loaded %s x%d (%s) on %s as %s",
            self.architecture,
            self.scale,
            self.model_path,
            self.device,
            model_dtype(self.model),
        )

    # -- the model stage -------------------------------------------------------------------------

    def upscale_batch(
        self,
        rgb: np.ndarray,
        on_tile: Callable[[], None] | None = None,
        size: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """N×H×W×3 uint8 → N×(H·s)×(W·s)×3 uint8, or N×height×width×3 for ``size`` = (width, height);
        retried smaller when the GPU runs out of memory."""
        import torch

        height, width = rgb.shape[1:3]
        fit = self._fits.get((height, width), Fit(len(rgb), self.tile_size))
        while True:
            try:
                parts = [
                    self._upscale_batch(rgb[i : i + fit.frames], on_tile, fit.tile, size)
                    for i in range(0, len(rgb), fit.frames)
                ]
                return parts[0] if len(parts) == 1 else np.concatenate(parts)
            except torch.cuda.OutOfMemoryError:
                smaller = fit.smaller(height, width)
                if smaller is None:
                    how = f"in {fit.tile}-pixel tiles" if 0 < fit.tile < max(width, height) else "whole"
                    raise out_of_memory(
                        f"upscaling one {width}×{height} frame {how} with {self.architecture}",
                        "free the GPU of other work, or use a smaller model",
                    ) from None
            # Out of the except block: the failed attempt's tensors are free to be released.
            torch.cuda.empty_cache()
            log.warning(
                "%s ran out of GPU memory on %d frame(s) of %d×%d; now %d frame(s) per call%s",
                self.name,
                fit.frames,
                width,
                height,
                smaller.frames,
                f" in {smaller.tile}-pixel tiles" if smaller.tile else "",
            )
            fit = self._fits[(height, width)] = smaller

    def _upscale_batch(
        self, rgb: np.ndarray, on_tile: Callable[[], None] | None, tile: int, size: tuple[int, int] | None
    ) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2)
            x = x.to(model_dtype(self.model)).div_(255.0)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            # spandrel's descriptor pads to the model's size requirements and crops the result.
            y = upscale_tensor(
                self.model,
                x,
                scale=self.scale,
                tile=tile,
                overlap=self.tile_overlap,
                on_tile=on_tile,
            )
            y = y.float()
            if size is not None and (y.shape[3], y.shape[2]) != size:
                width, height = size
                y = torch.nn.functional.interpolate(
                    y, size=(height, width), mode="bicubic", antialias=True, align_corners=False
                )
            y = y.clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
            return y.permute(0, 2, 3, 1).contiguous().cpu().numpy()

    # -- one task ------------------------------------------------------------------------------------

    def run(self, job: EngineJob, progress: Progress) -> Path:
        plan = upscale_target(job)  # the same source check, size and output file as classic upscale
        info, width, height, total, target = plan.info, plan.width, plan.height, plan.total_frames, plan.path
        progress(0, total, f"upscaling {info.width}×{info.height} with {self.architecture} x{self.scale}")

        with reencoding(
            job.video,
            target,
            width=width,
            height=height,
            has_audio=info.has_audio,
            crf=self.crf,
            preset=self.preset,
            threads=self.encoder_threads,
            warnings=job.warnings,
        ) as (decoder, writer):
            size = (width, height) if self.resize_on_device else None
            done = self._pipeline(decoder, writer, Scaler(width, height), progress, total, size)
            progress(done, max(total, done + 1), "finishing")
            writer.finish()
        progress(done, done)
        return target

    def _pipeline(
        self,
        decoder: VideoDecoder,
        writer: H264Writer,
        scaler: Scaler,
        progress: Progress,
        total: int,
        size: tuple[int, int] | None,
    ) -> int:
        encoder = _Encoder(decoder, writer, scaler, preview_hook(progress))
        with Stages() as stages:
            batches: Handoff[_Batch] = stages.handoff(QUEUE_BATCHES)
            upscaled: Handoff[_Upscaled] = stages.handoff(QUEUE_FRAMES)
            stages.feed(_batched(decoder.frames(), self.batch_size), batches, name="taxiway-sr-decode")
            from_model = upscaled
            if self.temporal_smoothing:
                from_model = stages.handoff(QUEUE_FRAMES)
                smoother = TemporalSmoother(self.temporal_smoothing)  # one per task: a task's frames in order
                stages.feed(_steadied(from_model.items(), smoother), upscaled, name="taxiway-sr-smooth")
            encoding = stages.consume(upscaled, encoder, name="taxiway-sr-encode")

            def report(text: str | None = None) -> None:
                encoding.check()  # an encoder failure surfaces here, on the model thread
                # frame_count can be an estimate: never report more than 100 % while still working.
                progress(encoder.frames, max(total, encoder.frames + 1), text)

            for batch in batches.items(report, every=REPORT_EVERY_SECONDS):
                out = self.upscale_batch(batch.rgb, on_tile=report, size=size)
                for frame, rgb, pixels in zip(batch.frames, batch.rgb, out, strict=True):
                    from_model.put(_Upscaled(frame, rgb, pixels), report)
                report()
            from_model.end(report)
            encoding.wait(report)
        if encoder.frames == 0:
            raise DecodeError("The video has no decodable frames.", frames_done=0, seconds=0.0)
        return encoder.frames


def _batched(frames: Iterator[VideoFrame], size: int) -> Iterator[_Batch]:
    """Frames as RGB batches of ``size``.

    The YUV → RGB conversion goes through the same swscale graph as the classic engine, so the
    source's matrix and range are honoured (PyAV's own conversion assumes BT.601). Every frame is
    converted at the first frame's size, rounded up to even (a 1-pixel stretch at most, before the
    model), so a batch always stacks and a mid-stream size change cannot break the pipeline.
    """
    to_rgb: Scaler | None = None
    pending: list[VideoFrame] = []
    arrays: list[np.ndarray] = []
    for frame in frames:
        if to_rgb is None:
            to_rgb = Scaler(
                frame.width + frame.width % 2,
                frame.height + frame.height % 2,
                pix_fmt="rgb24",
                full_range=True,
                interpolation="bicubic",
            )
        pending.append(frame)
        arrays.append(to_rgb(frame).to_ndarray())
        if len(pending) == size:
            yield _Batch(pending, np.stack(arrays))
            pending, arrays = [], []
    if pending:
        yield _Batch(pending, np.stack(arrays))


@dataclass(frozen=True)
class _Upscaled:
    """One frame out of the model stage."""

    frame: VideoFrame  # the decoded frame: its timing
    rgb: np.ndarray  # what the model was given, H×W×3 uint8
    pixels: np.ndarray  # what it gave (resized on a GPU), uint8 RGB


def _steadied(items: Iterator[_Upscaled], smoother: TemporalSmoother) -> Iterator[_Upscaled]:
    """The smoothing stage: each upscaled frame blended with the ones before it, in order."""
    for item in items:
        yield _Upscaled(item.frame, item.rgb, smoother(item.rgb, item.pixels))


class _Encoder:
    """The encode stage: upscaled RGB frames, with their source frame's timing, resized and written
    (and offered, before resizing, as the live preview)."""

    def __init__(
        self, decoder: VideoDecoder, writer: H264Writer, scaler: Scaler, preview: PreviewHook | None = None
    ) -> None:
        self.decoder, self.writer, self.scaler, self.preview = decoder, writer, scaler, preview
        self.frames = 0  # written; read by the model thread for progress

    def __call__(self, item: _Upscaled) -> None:
        frame = VideoFrame.from_ndarray(item.pixels, format="rgb24")
        copy_timing(item.frame, frame)
        if self.frames == 0 and self.decoder.start_time is not None:
            self.writer.set_source_start(self.decoder.start_time)
        if self.preview is not None:
            self.preview(frame)
        self.writer.write(self.scaler(frame))
        self.frames += 1
