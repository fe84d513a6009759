"""The classic expand (outpaint) engine: layout rule, pixels, timing, audio, errors, and over HTTP."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from mediafiles import make_image, make_video, pattern_frame
from support import Api, Server, free_port, settings_for_test
from taxiway.engines.base import EngineError, EngineJob, StopRequested
from taxiway.engines.classic.expand import ClassicExpand
from taxiway.engines.classic.expand_fill import Compositor, frame_planes
from taxiway.media.expand_layout import ExpandLayout, expand_layout
from taxiway.media.probe import probe_file
from taxiway.media.scale import Scaler

FPS = 24
RATE = 48_000


# --- helpers ---------------------------------------------------------------------------------------


def run_engine(
    video: Path,
    out_dir: Path,
    *,
    aspect: str = "16:9",
    seconds: float | None = None,
    image: Path | None = None,
    engine: ClassicExpand | None = None,
    progress: Callable[..., None] | None = None,
    **params: Any,
) -> Path:
    job = EngineJob(
        "expand",
        {"outpaint_aspect_ratio": aspect, "output_seconds": seconds, "seed": 1, **params},
        video=video,
        video_info=probe_file(video, "video"),
        image=image,
        image_info=probe_file(image, "image") if image else None,
        output_dir=out_dir,
    )
    engine = engine or ClassicExpand(preset="ultrafast")
    return engine.run(job, progress or (lambda done, total, text=None: None))


def decoded(path: Path, fmt: str = "rgb24") -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, picture) for every frame of ``path``."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield float(frame.pts * frame.time_base), frame.to_ndarray(format=fmt)


def audio_samples(path: Path) -> tuple[float, np.ndarray]:
    """(time of the first decoded sample, mono samples) of the first audio stream."""
    chunks, start = [], None
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            if start is None:
                start = float(frame.pts * frame.time_base)
            chunks.append(frame.to_ndarray().reshape(frame.layout.nb_channels, -1)[0])
    return start or 0.0, np.concatenate(chunks)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(float) - b.astype(float)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def fill_mask(layout: ExpandLayout, margin: int) -> np.ndarray:
    """True on the canvas outside the picture grown by ``margin`` pixels (the new area)."""
    mask = np.ones((layout.height, layout.width), bool)
    y0, x0 = max(0, layout.y - margin), max(0, layout.x - margin)
    y1, x1 = layout.y + layout.picture_height + margin, layout.x + layout.picture_width + margin
    mask[y0:y1, x0:x1] = False
    return mask


def interior(layout: ExpandLayout, picture: np.ndarray, margin: int) -> np.ndarray:
    """The picture's area of an output frame, less ``margin`` pixels on every side (the feather)."""
    y0, x0 = layout.y + margin, layout.x + margin
    y1, x1 = layout.y + layout.picture_height - margin, layout.x + layout.picture_width - margin
    return picture[y0:y1, x0:x1]


def frames_of(colours: list[tuple[int, int, int]], width: int, height: int) -> list[np.ndarray]:
    return [np.full((height, width, 3), colour, np.uint8) for colour in colours]


def make_clip(path: Path, pictures: list[np.ndarray]) -> Path:
    """A silent clip of these RGB pictures at FPS."""
    height, width = pictures[0].shape[:2]
    return make_video(path, width=width, height=height, frames=pictures, fps=FPS, audio=False)


def make_flash_clip(
    path: Path, *, seconds: float = 2.0, flash_at: float = 1.0, audio_seconds: float | None = None
) -> Path:
    """A black 160×90 clip with one white flash and, at the same instant, a 1 kHz beep in silence.

    The audio lasts ``audio_seconds`` (default: as long as the picture)."""
    out = av.open(str(path), "w")
    try:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
        video.codec_context.options = {"preset": "ultrafast"}
        audio = out.add_stream("aac", rate=RATE)
        audio.layout = "mono"
        for i in range(round(seconds * FPS)):
            level = 255 if round(flash_at * FPS) <= i < round(flash_at * FPS) + 2 else 0
            frame = av.VideoFrame.from_ndarray(np.full((90, 160, 3), level, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        t = np.arange(round((audio_seconds or seconds) * RATE)) / RATE
        wave = np.where((t >= flash_at) & (t < flash_at + 0.1), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
        for start in range(0, len(wave), 1024):
            chunk = wave[start : start + 1024].astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    finally:
        out.close()
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("expand-media")


@pytest.fixture(scope="module")
def clip43(media: Path) -> Path:
    """1.5 s 320×240 (4:3) moving pattern with a tone."""
    return make_video(media / "clip43.mp4", width=320, height=240, seconds=1.5, fps=FPS)


# --- the layout rule ---------------------------------------------------------------------------------

# (source width, height, aspect) -> (canvas, picture), worked out by hand from the rule in
# taxiway.media.expand_layout: smallest 16:9 / 9:16 box holding the source, even sides (the side the
# source fills rounded up, the other to nearest), long side capped at 1920 with the picture scaled
# along, a source within 1 % of the ratio unchanged.
LAYOUTS = [
    (320, 240, "16:9", (426, 240), (320, 240)),  # 240 × 16/9 = 426.7
    (320, 240, "9:16", (320, 568), (320, 240)),  # 320 × 16/9 = 568.9
    (240, 240, "16:9", (426, 240), (240, 240)),
    (240, 240, "9:16", (240, 426), (240, 240)),
    (320, 180, "16:9", (320, 180), (320, 180)),  # already 16:9
    (320, 180, "9:16", (320, 568), (320, 180)),
    (180, 320, "16:9", (568, 320), (180, 320)),
    (180, 320, "9:16", (180, 320), (180, 320)),  # already 9:16
    (322, 180, "16:9", (322, 180), (322, 180)),  # 1.7889 is within 1 % of 16:9
    (322, 180, "9:16", (322, 572), (322, 180)),  # 322 × 16/9 = 572.4
    (180, 322, "16:9", (572, 322), (180, 322)),
    (180, 322, "9:16", (180, 322), (180, 322)),
    (321, 241, "16:9", (428, 242), (322, 242)),  # odd: 241 → 242 rounded up, 242 × 16/9 = 428.4
    (1280, 720, "9:16", (1080, 1920), (1080, 608)),  # 2275.6 tall capped: × 0.84375
    (1080, 1920, "16:9", (1920, 1080), (608, 1080)),
    (1920, 1080, "16:9", (1920, 1080), (1920, 1080)),
    (3840, 2160, "16:9", (1920, 1080), (1920, 1080)),  # same ratio, scaled down to 1920
    (1440, 1080, "16:9", (1920, 1080), (1440, 1080)),  # 1080 × 16/9 = 1920 exactly
    # The contract's landscape and portrait: 5:3 and 3:5, the frame video to video renders.
    (1280, 720, "landscape", (1280, 768), (1280, 720)),  # 1280 × 3/5 = 768
    (1280, 720, "5:3", (1280, 768), (1280, 720)),
    (720, 1280, "portrait", (768, 1280), (720, 1280)),
    (1280, 720, "portrait", (1152, 1920), (1152, 648)),  # 2133.3 tall capped: × 0.9
    (320, 240, "landscape", (400, 240), (320, 240)),  # 240 × 5/3 = 400
    (320, 240, "3:5", (320, 534), (320, 240)),  # 320 × 5/3 = 533.3
]


@pytest.mark.parametrize(("width", "height", "aspect", "canvas", "picture"), LAYOUTS)
def test_layout_rule(
    width: int, height: int, aspect: str, canvas: tuple[int, int], picture: tuple[int, int]
) -> None:
    layout = expand_layout(width, height, aspect)
    assert (layout.width, layout.height) == canvas
    assert (layout.picture_width, layout.picture_height) == picture
    # Centred to within one pixel, on even offsets (4:2:0 chroma alignment), inside the canvas.
    assert layout.x % 2 == 0 and layout.y % 2 == 0
    assert abs(layout.x - (layout.width - layout.picture_width) / 2) <= 1
    assert abs(layout.y - (layout.height - layout.picture_height) / 2) <= 1
    target = {"16:9": 16 / 9, "9:16": 9 / 16, "5:3": 5 / 3, "landscape": 5 / 3}.get(aspect, 3 / 5)
    if layout.has_fill:
        assert abs(layout.width / layout.height / target - 1) < 0.01
    # Feathers only where the picture borders new area.
    assert (layout.feather_top > 0) == (layout.y > 0)
    assert (layout.feather_left > 0) == (layout.x > 0)


def test_layout_rejects_unknown_aspect_and_sizes() -> None:
    with pytest.raises(ValueError):
        expand_layout(320, 240, "square")
    with pytest.raises(ValueError):
        expand_layout(0, 240, "16:9")


# --- the pixels ---------------------------------------------------------------------------------------


def test_feathered_edge_blends_and_keeps_the_interior() -> None:
    """Compositor alone: a white picture on a black image fill ramps up over the feather only."""
    layout = expand_layout(320, 180, "9:16")  # picture at y = 194, feather 2 px
    black = (np.full((568, 320), 16, np.uint8), np.full((284, 160), 128, np.uint8))
    compositor = Compositor(layout, image=(black[0], black[1], black[1].copy()))
    white = av.VideoFrame.from_ndarray(np.full((180, 320, 3), 255, np.uint8), format="rgb24")
    white.pts, white.time_base = 0, Fraction(1, FPS)
    picture = Scaler(320, 180)(white)
    y, _, _ = frame_planes(compositor(picture))
    column = y[:, 160].astype(int)
    top, feather = layout.y, layout.feather_top
    assert feather >= 2
    assert (column[:top] == 16).all()  # fill untouched
    ramp = column[top : top + feather]
    assert (np.diff(np.concatenate([[16], ramp, [235]])) > 0).all()  # strictly rising: no hard line
    assert (column[top + feather : top + 180 - feather] == 235).all()  # picture untouched
    assert (column[top + 180 :] == 16).all()


def test_picture_region_equals_the_source(clip43: Path, tmp_path: Path) -> None:
    out = run_engine(clip43, tmp_path, aspect="9:16")
    layout = expand_layout(320, 240, "9:16")
    scores = []
    with av.open(str(clip43)) as source:
        pairs = zip(source.decode(video=0), decoded(out), strict=True)
        for src, (_, picture) in pairs:
            reference = Scaler(320, 240)(src).to_ndarray(format="rgb24")
            margin = layout.feather_top
            scores.append(psnr(interior(layout, picture, margin), reference[margin:-margin, margin:-margin]))
    assert min(scores) >= 35, scores


def test_fill_is_stable_on_moving_video(media: Path, tmp_path: Path) -> None:
    """A still scene with a box sweeping across it: the fill barely changes from frame to frame."""
    pictures = []
    for i in range(36):
        picture = pattern_frame(320, 240, 0)
        picture[100:140, i * 8 : i * 8 + 40] = 255
        pictures.append(picture)
    clip = make_clip(media / "sweep.mp4", pictures)
    out = run_engine(clip, tmp_path, aspect="9:16")
    mask = fill_mask(expand_layout(320, 240, "9:16"), margin=4)
    lumas = [y[mask].astype(float) for _, y in decoded(out, "gray")]
    diffs = [float(np.mean(np.abs(b - a))) for a, b in itertools.pairwise(lumas)]
    assert max(diffs) <= 0.5, diffs


def test_fill_smoothing_beats_a_plain_blur_on_a_flickering_source(media: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    colours = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(24)]
    flicker = make_clip(media / "flicker.mp4", frames_of(colours, 160, 120))
    mask = fill_mask(expand_layout(160, 120, "16:9"), margin=4)

    def flicker_of(engine: ClassicExpand, name: str) -> float:
        out = run_engine(flicker, tmp_path / name, engine=engine)
        lumas = [y[mask].astype(float) for _, y in decoded(out, "gray")]
        return float(np.mean([np.mean(np.abs(b - a)) for a, b in itertools.pairwise(lumas)]))

    smoothed = flicker_of(ClassicExpand(preset="ultrafast"), "smoothed")
    plain = flicker_of(ClassicExpand(preset="ultrafast", smoothing_s=0), "plain")
    assert plain > 20  # the source really flickers
    assert smoothed < 0.25 * plain, (smoothed, plain)


def test_fill_follows_the_colour_of_the_video(media: Path, tmp_path: Path) -> None:
    colours = [(200, 30, 30)] * FPS + [(30, 30, 200)] * FPS  # red for 1 s, then blue
    clip = make_clip(media / "redblue.mp4", frames_of(colours, 160, 120))
    out = run_engine(clip, tmp_path, aspect="9:16")
    mask = fill_mask(expand_layout(160, 120, "9:16"), margin=4)
    fills = [picture[mask].mean(axis=0) for _, picture in decoded(out)]
    red, blue = fills[FPS - 4], fills[-1]
    assert red[0] > red[2] + 60, red
    assert blue[2] > blue[0] + 60, blue
    # Dimmed and desaturated, so the real picture stands out: fill less bright than the source.
    assert red[0] < 200 and blue[2] < 200


def _cover_crop(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    cover = max(width / w, height / h)
    size = (max(width, math.ceil(w * cover)), max(height, math.ceil(h * cover)))
    scaled = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled[y0 : y0 + height, x0 : x0 + width]


def test_image_fill_is_the_cover_cropped_image(clip43: Path, media: Path, tmp_path: Path) -> None:
    yy, xx = np.mgrid[0:300, 0:200]
    smooth = np.stack([xx * 255 // 199, yy * 255 // 299, 255 - (xx + yy) * 255 // 498], -1).astype(np.uint8)
    cv2.imwrite(str(media / "guide.png"), cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR))
    out = run_engine(clip43, tmp_path, aspect="9:16", image=media / "guide.png")
    layout = expand_layout(320, 240, "9:16")
    expected = _cover_crop(smooth, layout.width, layout.height)
    mask = fill_mask(layout, margin=8)
    frames = [picture for _, picture in decoded(out)]
    for picture in (frames[0], frames[-1]):  # static: the same at the start and the end
        assert psnr(picture[mask], expected[mask]) >= 35
    # And the picture is still the video.
    first = next(decoded(clip43))[1]
    assert psnr(interior(layout, frames[0], 2), first[2:-2, 2:-2]) >= 35


def test_image_fill_honours_exif_orientation(clip43: Path, media: Path, tmp_path: Path) -> None:
    jpeg = make_image(media / "turned.jpg", width=300, height=200, exif_orientation=6)  # upright: 200×300
    out = run_engine(clip43, tmp_path, aspect="9:16", image=jpeg)
    layout = expand_layout(320, 240, "9:16")
    mask = fill_mask(layout, margin=8)
    upright = np.rot90(pattern_frame(300, 200, 0), k=-1)  # rotated 90° clockwise
    picture = next(decoded(out))[1]
    right = psnr(picture[mask], _cover_crop(np.ascontiguousarray(upright), 320, 568)[mask])
    wrong = psnr(picture[mask], _cover_crop(np.ascontiguousarray(upright[::-1, ::-1]), 320, 568)[mask])
    assert right > 20 and right > wrong + 3, (right, wrong)


# --- sizes, time, audio --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"), [(320, 240), (240, 240), (320, 180), (180, 320), (322, 180), (180, 322)]
)
@pytest.mark.parametrize("aspect", ["16:9", "9:16"])
def test_output_size_duration_and_audio(
    width: int, height: int, aspect: str, media: Path, tmp_path: Path
) -> None:
    clip = make_video(media / f"s{width}x{height}.mp4", width=width, height=height, seconds=0.5, fps=FPS)
    info = probe_file(run_engine(clip, tmp_path, aspect=aspect), "video")
    canvas = next(row[3] for row in LAYOUTS if row[:3] == (width, height, aspect))
    assert (info.width, info.height) == canvas
    assert info.frame_count == 12
    assert abs(info.duration - 0.5) <= 1 / FPS + 1e-3
    assert info.has_audio
    assert info.rotation == 0


def test_same_ratio_source_is_kept_as_is(media: Path, tmp_path: Path) -> None:
    clip = make_video(media / "wide.mp4", width=320, height=180, seconds=0.5, fps=FPS)
    out = run_engine(clip, tmp_path, aspect="16:9")
    for (_, a), (_, b) in zip(decoded(clip), decoded(out), strict=True):
        assert a.shape == b.shape and psnr(a, b) >= 35


def test_rotated_source_is_expanded_upright(media: Path, tmp_path: Path) -> None:
    clip = make_video(media / "rot.mp4", width=320, height=180, seconds=0.5, fps=FPS, rotation=90)
    out = run_engine(clip, tmp_path, aspect="16:9")
    layout = expand_layout(180, 320, "16:9")
    info = probe_file(out, "video")
    assert (info.width, info.height, info.rotation) == (568, 320, 0)
    stored = next(decoded(clip))[1]  # PyAV does not apply the display rotation itself
    upright = np.rot90(stored, k=-1)  # rotated 90° clockwise
    picture = next(decoded(out))[1]
    assert psnr(interior(layout, picture, 2), upright[2:-2, 2:-2]) >= 35
    assert psnr(interior(layout, picture, 2), np.rot90(stored, k=1)[2:-2, 2:-2]) < 20


def test_variable_frame_rate_timestamps_are_kept(media: Path, tmp_path: Path) -> None:
    times = [0.0, 0.04, 0.1, 0.12, 0.3, 0.35, 0.5, 0.52, 0.7, 0.9, 0.95, 1.0]
    clip = make_video(media / "vfr.mp4", width=160, height=120, timestamps=times, fps=FPS)
    out = run_engine(clip, tmp_path, aspect="9:16")
    got = [t for t, _ in decoded(out)]
    assert got == pytest.approx(times, abs=1e-3)
    info = probe_file(out, "video")
    assert (info.width, info.height) == (160, 284)
    _, samples = audio_samples(out)
    assert abs(len(samples) / RATE - info.duration) <= 1 / FPS


def test_output_seconds_trims_video_and_audio(clip43: Path, tmp_path: Path) -> None:
    out = run_engine(clip43, tmp_path, seconds=1.0)
    info = probe_file(out, "video")
    assert info.frame_count == FPS
    assert abs(info.duration - 1.0) <= 1 / FPS + 1e-3
    _, samples = audio_samples(out)
    assert abs(len(samples) / RATE - 1.0) <= 1 / FPS


def test_audio_stays_in_sync_with_the_picture(media: Path, tmp_path: Path) -> None:
    clip = make_flash_clip(media / "flash.mp4")
    out = run_engine(clip, tmp_path, aspect="9:16", seconds=1.5)
    layout = expand_layout(160, 90, "9:16")
    flash = next(t for t, y in decoded(out, "gray") if interior(layout, y, 2).mean() > 128)
    start, samples = audio_samples(out)
    beep = start + int(np.argmax(np.abs(samples) > 0.1)) / RATE
    assert flash == pytest.approx(1.0, abs=1e-3)
    assert abs(beep - flash) <= 1 / FPS, (beep, flash)
    assert abs(len(samples) / RATE - 1.5) <= 1 / FPS


def test_audio_outlasting_the_picture_is_cut_at_its_end(media: Path, tmp_path: Path) -> None:
    clip = make_flash_clip(media / "long-audio.mp4", seconds=1.0, flash_at=0.5, audio_seconds=1.6)
    out = run_engine(clip, tmp_path, aspect="9:16")
    info = probe_file(out, "video")
    assert abs(info.duration - 1.0) <= 1 / FPS + 1e-3
    _, samples = audio_samples(out)
    assert abs(len(samples) / RATE - 1.0) <= 1 / FPS


def test_same_input_gives_identical_bytes(clip43: Path, tmp_path: Path) -> None:
    first = run_engine(clip43, tmp_path / "a", aspect="9:16", seconds=1.0).read_bytes()
    second = run_engine(clip43, tmp_path / "b", aspect="9:16", seconds=1.0).read_bytes()
    assert first == second


# --- progress, cancel, errors --------------------------------------------------------------------------


def test_progress_reports_and_prompt_notice(clip43: Path, tmp_path: Path) -> None:
    calls: list[tuple[float, float, str | None]] = []

    def progress(done: float, total: float, text: str | None = None) -> None:
        calls.append((done, total, text))

    run_engine(clip43, tmp_path, progress=progress, text_prompt="sea")
    text = calls[0][2] or ""
    assert text.startswith("expanding 320×240 to 16:9 426×240, new area filled with a blur of the video")
    assert "text prompt is not used" in text
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == calls[-1][1] == 36
    assert max(b - a for a, b in itertools.pairwise(done)) <= 10


def test_cancel_stops_and_leaves_no_output(clip43: Path, tmp_path: Path) -> None:
    def progress(done: float, total: float, text: str | None = None) -> None:
        if done >= 10:
            raise StopRequested

    with pytest.raises(StopRequested):
        run_engine(clip43, tmp_path, progress=progress)
    assert list(tmp_path.iterdir()) == []


def _error_of(run: Callable[[], object]) -> EngineError:
    with pytest.raises(EngineError) as caught:
        run()
    return caught.value


def test_errors_say_what_is_wrong(clip43: Path, media: Path, tmp_path: Path) -> None:
    def nothing(done: float, total: float, text: str | None = None) -> None:
        pass

    no_video = _error_of(lambda: ClassicExpand().run(EngineJob("expand", {}, output_dir=tmp_path), nothing))
    assert (str(no_video), no_video.reason) == ("The expand operation needs a video.", "BAD_INPUT")
    bad_aspect = _error_of(lambda: run_engine(clip43, tmp_path, aspect="square"))
    assert str(bad_aspect) == (
        "outpaint_aspect_ratio must be one of landscape, portrait, 5:3, 3:5, 16:9, 9:16, not 'square'."
    )
    bad_seconds = _error_of(lambda: run_engine(clip43, tmp_path, seconds=-1.0))
    assert str(bad_seconds) == "output_seconds must be a positive number of seconds, not -1.0."
    broken = media / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    job = EngineJob(
        "expand", {"outpaint_aspect_ratio": "9:16"}, video=clip43,
        video_info=probe_file(clip43, "video"), image=broken, output_dir=tmp_path,
    )  # fmt: skip
    bad_image = _error_of(lambda: ClassicExpand().run(job, nothing))
    assert str(bad_image) == (
        "The guiding image could not be decoded: the format is not recognised or the data is corrupt."
    )
    assert bad_image.reason == "INPUT_UNDECODABLE"
    assert not (tmp_path / "output.mp4").exists()


# --- over HTTP ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    server = Server(settings_for_test(tmp_path_factory.mktemp("expand-server"), port=free_port())).start()
    try:
        api = server.new_user()
        api.create_account()
        yield api
    finally:
        server.stop()


def _artifact(api: Api, body: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], Path]:
    created = api.create("gen3turbo/expand", body)
    assert created.status_code == 200, created.text
    assert created.json()["options"]["engine"] == "classic-expand"
    task = api.wait(created.json()["taskId"])
    assert task["status"] == "SUCCEEDED", task["error"]
    [artifact] = task["artifacts"]
    out = tmp_path / "artifact.mp4"
    out.write_bytes(api.http.get(artifact["url"]).content)
    return task, out


def test_http_expand_with_the_video_as_fill(http: Api, media: Path, tmp_path: Path) -> None:
    clip = make_video(media / "http.mp4", width=320, height=240, seconds=2.0, fps=FPS)
    asset = http.upload(clip, "video/mp4")
    task, out = _artifact(
        http, {"videoAssetId": asset["assetId"], "outpaint_aspect_ratio": "9:16", "seed": 5}, tmp_path
    )
    assert task["options"]["outpaint_aspect_ratio"] == "9:16"
    assert task["options"]["seconds"] == 2.0  # absent: the video's own length
    info = probe_file(out, "video")
    assert (info.width, info.height) == (320, 568)
    assert abs(info.duration - 2.0) <= 1 / FPS + 1e-3
    assert info.has_audio


def test_http_expand_with_an_image_and_more_seconds_than_the_video(
    http: Api, media: Path, tmp_path: Path
) -> None:
    clip = make_video(media / "http2.mp4", width=320, height=240, seconds=2.0, fps=FPS)
    video = http.upload(clip, "video/mp4")
    image = http.upload(make_image(media / "guide2.png", width=160, height=120), "image/png")
    body = {
        "videoAssetId": video["assetId"],
        "imageAssetId": image["assetId"],
        "seconds": 5,
        "text_prompt": "a beach",
        "outpaint_aspect_ratio": "16:9",
    }
    task, out = _artifact(http, body, tmp_path)
    info = probe_file(out, "video")
    assert (info.width, info.height) == (426, 240)
    assert abs(info.duration - 2.0) <= 1 / FPS + 1e-3  # 5 s asked of a 2 s clip: 2 s
    assert info.has_audio
    assert task["options"]["text_prompt"] == "a beach"
