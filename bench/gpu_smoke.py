"""GPU smoke check: every neural engine setting that only takes effect on a GPU, run once end to end.

The test suite runs the neural engines on the CPU, where bf16, CPU offload, torch.compile and the
attention backends are never used. This script builds tiny random models (the tests' own builders),
loads them through the engines' real loading path (``build_engine`` from a models configuration)
and runs one short task per setting on the GPU, checking the output's size and length:

- spandrel SR upscale (Compact, bf16, channels-last): whole frames in batches, in tiles, compiled;
- wan-vace expand with: the defaults (bf16), ``cpu_offload = "model"`` + ``vae_tiling``,
  ``cpu_offload = "sequential"``, ``first_block_cache``, ``compile``, each attention backend that
  loads here (a backend whose kernels are not installed is reported, not failed);
- a Wan2.2-style two-transformer VACE folder; the wan engine (WanVideoToVideoPipeline) in bf16;
- the server's device probe (a child interpreter), which pins neural workers to GPUs.

Not a benchmark: it prints each case's wall time only to spot something pathological.

    cd bench && PYTHONPATH=../src python gpu_smoke.py            # --device cpu: the same on the CPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from common import FPS, make_pattern_clip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "neural"))
from wan_models import save_tiny_wan_t2v, save_tiny_wan_vace

from taxiway.core.settings import Settings
from taxiway.engines.base import EngineError, EngineJob
from taxiway.engines.catalog import choose
from taxiway.engines.devices import Devices
from taxiway.engines.registry import build_engine
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file

TINY_WAN = {"resolution": 128, "steps": 4, "max_frames": 17, "context_frames": 4}
ATTENTION_BACKENDS = ("_native_cudnn", "_native_flash", "flash", "_flash_3", "sage")


def save_tiny_compact(path: Path) -> Path:
    from safetensors.torch import save_file
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    model = Compact(num_in_ch=3, num_out_ch=3, num_feat=16, num_conv=2, upscale=4)
    save_file(model.state_dict(), str(path))
    return path


class Smoke:
    def __init__(self, work: Path, device: str, clip: Path) -> None:
        self.work, self.device, self.clip = work, device, clip
        self.failed: list[str] = []

    def case(self, name: str, operation: str, model: dict[str, Any], params: dict[str, Any],
             check: Callable[[Any], bool], optional: bool = False, **settings: Any) -> None:  # fmt: skip
        """Load ``model`` as a user's configured model and run one ``operation`` task with it."""
        settings = Settings(
            models={"m": model}, neural_device=self.device, x264_preset="ultrafast", **settings
        )
        started = time.perf_counter()
        engine = None
        try:
            engine = build_engine(choose(operation, settings, "m"), settings)
            job = EngineJob(
                operation,
                params,
                video=self.clip,
                video_info=probe_file(self.clip, "video"),
                output_dir=self.work / name.replace(" ", "_"),
            )
            info = probe_file(engine.run(job, lambda *_: None), "video")
            peak = torch.cuda.max_memory_allocated() / 2**30 if self.device == "cuda" else 0.0
            verdict = "ok" if check(info) else "WRONG OUTPUT"
            detail = f"{info.width}×{info.height}, {info.duration:.2f} s, peak {peak:.2f} GiB"
        except EngineError as exc:
            verdict, detail = ("unavailable" if optional else "FAILED"), f"{exc.reason}: {exc}"
        except Exception as exc:
            verdict, detail = "FAILED", f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            if engine is not None and hasattr(engine, "close"):
                engine.close()
            if self.device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            torch._dynamo.reset()
        self.report(name, verdict, started, detail)

    def report(self, name: str, verdict: str, started: float, detail: str) -> None:
        if verdict in ("FAILED", "WRONG OUTPUT"):
            self.failed.append(name)
        print(f"{name:<40} {verdict:<12} {time.perf_counter() - started:6.1f} s  {detail}", flush=True)

    def device_probe(self, model: dict[str, Any]) -> None:
        """What `taxiway serve` sees before it starts neural workers: torch's GPUs, from a child."""
        started = time.perf_counter()
        found, problem = Devices(Settings(models={"m": model})).torch()
        expected = torch.cuda.device_count() if self.device == "cuda" else None
        ok = found is not None and (expected is None or found.gpus == expected)
        self.report("device probe", "ok" if ok else "FAILED", started, f"{found or problem}")


def main(argv: list[str] | None = None) -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "none"
    print(f"torch {torch.__version__}, device {args.device}, gpu {gpu}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_pattern_clip(work / "clip.mp4", 96, 64, round(1.5 * FPS))
        smoke = Smoke(work, args.device, clip)

        sr = {"engine": "spandrel", "path": str(save_tiny_compact(work / "compact.safetensors"))}
        uhd = lambda info: (info.width, info.height) == four_k_class(96, 64)  # noqa: E731
        smoke.device_probe(sr)
        smoke.case("spandrel batches", "upscale", sr, {}, uhd)
        smoke.case("spandrel tiles", "upscale", sr, {}, uhd, sr_tile_size=32, sr_tile_overlap=8)

        vace = TINY_WAN | {"engine": "wan-vace", "path": str(save_tiny_wan_vace(work / "vace"))}
        expand = {"outpaint_aspect_ratio": "landscape", "seed": 1, "text_prompt": "a wide field"}
        landscape = lambda info: info.width > info.height and abs(info.duration - 1.5) < 0.1  # noqa: E731
        smoke.case("wan-vace expand bf16", "expand", vace, expand, landscape)
        smoke.case("wan-vace offload model + vae tiling", "expand",
                   vace | {"cpu_offload": "model", "vae_tiling": True}, expand, landscape)  # fmt: skip
        for name, setting in (
            ("offload sequential", {"cpu_offload": "sequential"}),
            ("first block cache", {"first_block_cache": 0.1}),
        ):
            smoke.case(f"wan-vace {name}", "expand", vace | setting, expand, landscape)
        for backend in ATTENTION_BACKENDS:
            smoke.case(f"wan-vace attention {backend}", "expand", vace | {"attention_backend": backend},
                       expand, landscape, optional=True)  # fmt: skip
        smoke.case("wan-vace extend float16", "extend", vace | {"dtype": "float16"},
                   {"extend_seconds": 2, "seed": 2}, lambda info: abs(info.duration - 3.5) < 0.1)  # fmt: skip

        two = TINY_WAN | {"engine": "wan-vace", "path": str(save_tiny_wan_vace(work / "w22", two_stage=True))}
        smoke.case("wan2.2 two transformers expand", "expand", two, expand, landscape)

        t2v = TINY_WAN | {"engine": "wan", "path": str(save_tiny_wan_t2v(work / "t2v"))}
        redraw = {"text_prompt": "watercolor", "structure_transformation": 5, "width": 208, "height": 128}
        smoke.case("wan video to video bf16", "video_to_video", t2v, redraw,
                   lambda info: (info.width, info.height) == (208, 128))  # fmt: skip

        # Last, as the slowest (compilation): a time limit that cuts the run short loses only these.
        smoke.case("spandrel compile", "upscale", sr | {"compile": True}, {}, uhd)
        smoke.case("wan-vace compile", "expand", vace | {"compile": True}, expand, landscape)
    print("FAILED: " + ", ".join(smoke.failed) if smoke.failed else "all cases ran", flush=True)
    return 1 if smoke.failed else 0


if __name__ == "__main__":
    sys.exit(main())
