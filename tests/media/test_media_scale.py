"""Scaler: the engine's resampler beats FFmpeg's bilinear scaler on detailed content; colour handling."""

from __future__ import annotations

import math

import av
import numpy as np
import pytest

from taxiway.engines.classic.upscale import ClassicUpscale
from taxiway.media.scale import Scaler

SIZE = (512, 384)  # original (width, height)
FACTOR = 4


def _detailed_pictures(count: int = 3) -> list[np.ndarray]:
    """Photo-like RGB pictures: smooth random texture at several scales plus hard-edged shapes."""
    rng = np.random.default_rng(7)
    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    pictures = []
    for i in range(count):
        img = np.zeros((h, w, 3))
        for scale in (
            64,
            24,
            12,
        ):  # blobs of several sizes: detail that survives a 4x downscale, and some that does not
            noise = rng.normal(size=(h // scale + 2, w // scale + 2, 3))
            # Bilinear interpolation of a coarse grid gives a smooth random field.
            gy, gx = yy / scale, xx / scale
            y0, x0 = gy.astype(int), gx.astype(int)
            fy, fx = (gy - y0)[..., None], (gx - x0)[..., None]
            field = (
                noise[y0, x0] * (1 - fy) * (1 - fx)
                + noise[y0 + 1, x0] * fy * (1 - fx)
                + noise[y0, x0 + 1] * (1 - fy) * fx
                + noise[y0 + 1, x0 + 1] * fy * fx
            )
            img += field * (40 if scale == 64 else 25)
        img += 128 + 60 * np.sin((xx + 3 * i) / 9.0)[..., None] * np.cos(yy / 13.0)[..., None]
        img[(xx - 200 - 10 * i) ** 2 + (yy - 180) ** 2 < 70**2] = (240, 200, 40)  # a disc
        img[40:60, 300:480] = (20, 30, 200)  # a bar
        pictures.append(np.clip(img, 0, 255).astype(np.uint8))
    return pictures


def _luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray()[: frame.height].astype(float)  # yuv420p: the first `height` rows are Y


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def _round_trip_psnr(interpolation: str) -> float:
    w, h = SIZE
    to_yuv = Scaler(w, h, interpolation="bicubic")
    down = Scaler(w // FACTOR, h // FACTOR, interpolation="area")
    up = Scaler(w, h, interpolation=interpolation)
    scores = []
    for picture in _detailed_pictures():
        rgb = av.VideoFrame.from_ndarray(picture, format="rgb24")
        original = to_yuv(rgb)
        scores.append(_psnr(_luma(up(down(rgb))), _luma(original)))
    return float(np.mean(scores))


def test_engine_resampler_beats_bilinear_on_a_4x_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    engine_filter = ClassicUpscale().interpolation
    results = {name: _round_trip_psnr(name) for name in (engine_filter, "bicubic", "bilinear")}
    with capsys.disabled():
        print("\n4x down/up luma PSNR (dB): " + ", ".join(f"{k} {v:.2f}" for k, v in results.items()))
    assert results[engine_filter] >= results["bilinear"]
    assert results[engine_filter] > 20  # sanity: the round trip resembles the original


def test_scaler_output_format_and_timestamps() -> None:
    frame = av.VideoFrame.from_ndarray(np.zeros((90, 160, 3), np.uint8), format="rgb24")
    frame.pts = 7
    out = Scaler(320, 180)(frame)
    assert (out.width, out.height, out.format.name, out.pts) == (320, 180, "yuv420p", 7)


def test_scaler_rejects_odd_sizes_and_unknown_filters() -> None:
    with pytest.raises(ValueError):
        Scaler(321, 180)
    with pytest.raises(ValueError):
        Scaler(320, 180, interpolation="magic")


@pytest.mark.parametrize(
    ("rgb", "y", "cb", "cr"),
    [
        ((0, 0, 0), 16, 128, 128),  # black -> limited-range black
        ((255, 255, 255), 235, 128, 128),  # white -> limited-range white
        ((255, 0, 0), 63, 102, 240),  # BT.709 red (BT.601 red would be Y 81)
    ],
)
def test_rgb_input_becomes_bt709_limited_range(rgb: tuple[int, int, int], y: int, cb: int, cr: int) -> None:
    frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), rgb, np.uint8), format="rgb24")
    out = Scaler(32, 32)(frame).to_ndarray()
    assert abs(int(out[16, 16]) - y) <= 1
    assert abs(int(out[32, 8]) - cb) <= 1  # U plane starts at row 32 (two 16-wide rows per row)
    assert abs(int(out[40, 8]) - cr) <= 1  # V plane starts at row 40


def test_full_range_source_is_compressed_to_limited_range() -> None:
    planes = np.concatenate([np.full((32, 32), 255, np.uint8), np.full((16, 32), 128, np.uint8)])
    frame = av.VideoFrame.from_ndarray(planes, format="yuvj420p")  # JPEG-style full range white
    out = Scaler(32, 32)(frame).to_ndarray()
    assert abs(int(out[0, 0]) - 235) <= 1


def _edge_energy(luma: np.ndarray) -> float:
    """Mean squared Laplacian: how much fine edge contrast the picture has."""
    lap = luma[1:-1, 1:-1] * 4 - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:]
    return float(np.mean(lap**2))


def test_optional_sharpening_adds_edge_contrast_and_stays_faithful() -> None:
    w, h = SIZE
    picture = av.VideoFrame.from_ndarray(_detailed_pictures(1)[0], format="rgb24")
    small = Scaler(w // FACTOR, h // FACTOR, interpolation="area")(picture)
    plain = _luma(Scaler(w, h)(small))
    mild = _luma(Scaler(w, h, sharpen=0.5)(small))
    strong = _luma(Scaler(w, h, sharpen=1.5)(small))
    assert _edge_energy(plain) < _edge_energy(mild) < _edge_energy(strong)
    # Mild sharpening changes the picture only a little: it is still the same picture.
    assert _psnr(mild, plain) > 30
    # Chroma is left alone: the colour planes are identical.
    assert np.array_equal(
        Scaler(w, h)(small).to_ndarray()[h:], Scaler(w, h, sharpen=0.5)(small).to_ndarray()[h:]
    )
    with pytest.raises(ValueError):
        Scaler(w, h, sharpen=3)
