"""The classic extend engine: source + continued motion, directly and through both HTTP endpoints."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import numpy as np
import pytest

from mediafiles import make_corrupt_payload, make_video, make_video_cli
from support import Server
from taxiway.engines.base import EngineError, EngineJob, StopRequested
from taxiway.engines.classic.extend import ClassicExtend
from taxiway.engines.classic.extend_motion import (
    DX,
    DY,
    TURN,
    ZOOM,
    estimate_motion,
    move_from_prompt,
    move_from_seed,
    plan_path,
)
from taxiway.media.decode import VideoDecoder
from taxiway.media.probe import probe_file

FPS = 24
PAN_PX = 3  # The pan clip's content moves this many pixels left per frame (the camera pans right).
PAN_FRAMES = 36


def texture(width: int, height: int, seed: int = 1) -> np.ndarray:
    """A soft random RGB texture: trackable everywhere, no repeating pattern."""
    rng = np.random.default_rng(seed)
    soft = cv2.GaussianBlur(rng.random((height, width, 3), dtype=np.float32), (0, 0), 3)
    return cv2.normalize(soft, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extend-media")


@pytest.fixture(scope="module")
def pan_clip(media: Path) -> Path:
    """320×180, 1.5 s, a texture panning at a constant PAN_PX per frame, with a 440 Hz tone."""
    canvas = texture(320 + PAN_PX * PAN_FRAMES, 180)
    frames = [np.ascontiguousarray(canvas[:, PAN_PX * i : PAN_PX * i + 320]) for i in range(PAN_FRAMES)]
    return make_video(media / "pan.mp4", width=320, height=180, fps=FPS, frames=frames)


@pytest.fixture(scope="module")
def still_clip(media: Path) -> Path:
    """320×180, 0.5 s, a texture that does not move, no audio."""
    frames = [texture(320, 180, seed=2)] * 12
    return make_video(media / "still.mp4", width=320, height=180, fps=FPS, frames=frames, audio=False)


@pytest.fixture(scope="module")
def grainy_clip(media: Path) -> Path:
    """The still texture with strong fresh noise in every frame (σ = 6), no audio."""
    rng = np.random.default_rng(5)
    base = texture(320, 180, seed=2).astype(np.float32)
    frames = [np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8) for _ in range(12)]
    return make_video(media / "grainy.mp4", width=320, height=180, fps=FPS, frames=frames, audio=False)


class Recorder:
    """A progress callback that records calls and can raise StopRequested after ``stop_after``."""

    def __init__(self, stop_after: float | None = None) -> None:
        self.calls: list[tuple[float, float, str | None]] = []
        self.stop_after = stop_after
        self.stopped_at: float | None = None

    def __call__(self, done: float, total: float, text: str | None = None) -> None:
        self.calls.append((done, total, text))
        if self.stop_after is not None and done >= self.stop_after:
            self.stopped_at = time.monotonic()
            raise StopRequested()

    @property
    def texts(self) -> list[str]:
        return [text for _, _, text in self.calls if text]


def extend(
    video: Path,
    out: Path,
    progress: Callable[..., None] | None = None,
    engine: ClassicExtend | None = None,
    **params: Any,
) -> Path:
    params = {"extend_seconds": 5, "seed": 1, "text_prompt": None, "extended_count": 1} | params
    job = EngineJob("extend", params, video=video, video_info=probe_file(video, "video"), output_dir=out)
    return (engine or ClassicExtend()).run(job, progress or Recorder())


def gray_frames(path: Path) -> list[np.ndarray]:
    with VideoDecoder(path) as decoder:
        return [frame.to_ndarray(format="gray").astype(np.float32) for frame in decoder.frames()]


def rgb_frames(path: Path) -> list[np.ndarray]:
    with VideoDecoder(path) as decoder:
        return [frame.to_ndarray(format="rgb24") for frame in decoder.frames()]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """(scale, dx, dy of the centre) taking picture ``a`` to ``b``, from tracked corners."""
    a8, b8 = a.astype(np.uint8), b.astype(np.uint8)
    corners = cv2.goodFeaturesToTrack(a8, 300, 0.01, 6)
    moved, ok, _ = cv2.calcOpticalFlowPyrLK(a8, b8, corners, None, winSize=(21, 21), maxLevel=3)
    keep = ok.ravel() == 1
    matrix, _ = cv2.estimateAffinePartial2D(corners[keep], moved[keep])
    centre = np.array([(a.shape[1] - 1) / 2, (a.shape[0] - 1) / 2, 1.0])
    dx, dy = matrix @ centre - centre[:2]
    return float(np.sqrt(np.linalg.det(matrix[:, :2]))), float(dx), float(dy)


def audio_samples(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        frames = [frame for frame in container.decode(audio=0)]
        rate = frames[0].sample_rate
        return np.concatenate([frame.to_ndarray()[0] for frame in frames]), rate


@pytest.fixture(scope="module")
def pan_result(pan_clip: Path, media: Path) -> tuple[Path, Recorder]:
    recorder = Recorder()
    return extend(pan_clip, media / "pan-out", recorder, extend_seconds=5, seed=3), recorder


def test_output_is_every_source_frame_then_the_extension(
    pan_clip: Path, pan_result: tuple[Path, Recorder]
) -> None:
    output, recorder = pan_result
    assert output.name == "output.mp4"
    info = probe_file(output, "video")
    assert (info.width, info.height, info.codec) == (320, 180, "h264")
    assert info.frame_rate == pytest.approx(FPS)
    assert info.duration == pytest.approx(PAN_FRAMES / FPS + 5, abs=1 / FPS)
    out_frames, src_frames = rgb_frames(output), rgb_frames(pan_clip)
    assert len(out_frames) == PAN_FRAMES + 5 * FPS
    assert min(psnr(a, b) for a, b in zip(out_frames, src_frames, strict=False)) >= 35
    # Progress: a descriptive first text, rising, never past the total, often enough.
    first_text = recorder.calls[0][2]
    assert first_text == (
        "extending by 5 s: continuing the last motion into a "
        f"{move_from_seed(3, 320, 180).description} (drawn from seed 3)"
    )
    dones = [done for done, _, _ in recorder.calls]
    assert dones == sorted(dones) and all(done <= total for done, total, _ in recorder.calls)
    assert max(np.diff(dones)) <= 10
    assert recorder.calls[-1][0] == recorder.calls[-1][1] == len(out_frames)


def test_seam_is_continuous_and_the_pan_goes_on(pan_result: tuple[Path, Recorder]) -> None:
    frames = gray_frames(pan_result[0])
    diffs = [mean_abs_diff(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
    bound = 1.5 * float(np.median(diffs[: PAN_FRAMES - 1]))
    assert diffs[PAN_FRAMES - 1] <= bound  # last source frame -> first new frame
    assert max(diffs[PAN_FRAMES:]) <= bound  # no jump anywhere inside the extension
    # The content kept moving left at the source's speed, then slowed smoothly.
    shifts = [cv2.phaseCorrelate(frames[i], frames[i + 1])[0] for i in range(PAN_FRAMES - 1, PAN_FRAMES + 6)]
    assert shifts[0][0] == pytest.approx(-PAN_PX, abs=0.4) and abs(shifts[0][1]) < 0.4
    assert all(dx < -1.5 for dx, _ in shifts)


def test_audio_is_the_source_then_silence_to_the_end(pan_result: tuple[Path, Recorder]) -> None:
    output = pan_result[0]
    samples, rate = audio_samples(output)
    video_seconds = probe_file(output, "video").duration
    assert len(samples) / rate == pytest.approx(video_seconds, abs=0.05)
    start, end = loud_span(samples, rate)
    assert start < 0.05 and end == pytest.approx(PAN_FRAMES / FPS, abs=0.03)


def loud_span(samples: np.ndarray, rate: int, threshold: float = 0.05) -> tuple[float, float]:
    """Start and end (seconds) of the part of ``samples`` louder than ``threshold`` RMS (10 ms windows)."""
    window = rate // 100
    rms = np.sqrt(np.mean(samples[: len(samples) // window * window].reshape(-1, window) ** 2, axis=1))
    loud = np.flatnonzero(rms > threshold)
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def test_source_audio_stops_where_its_pictures_stop(media: Path, tmp_path: Path) -> None:
    # 1 s of pictures, 2.5 s of tone: the tone must not run on into the extension.
    clip = make_video_cli(
        media / "long-audio.mp4",
        *("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24:duration=1"),
        *("-f", "lavfi", "-i", "sine=frequency=440:duration=2.5"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"),
    )
    output = extend(clip, tmp_path, extend_seconds=2)
    samples, rate = audio_samples(output)
    assert len(samples) / rate == pytest.approx(3.0, abs=0.05)
    start, end = loud_span(samples, rate)
    assert start < 0.05 and end == pytest.approx(1.0, abs=0.03)


def test_no_audio_in_no_audio_out(still_clip: Path, tmp_path: Path) -> None:
    output = extend(still_clip, tmp_path, extend_seconds=1)
    info = probe_file(output, "video")
    assert not info.has_audio
    assert info.duration == pytest.approx(0.5 + 1, abs=1 / FPS)


@pytest.mark.parametrize(
    ("prompt", "check"),
    [
        ("Slow push in on the door", lambda s, dx, dy: s > 1.04 and abs(dx) < 1 and abs(dy) < 1),
        ("the camera pulls back", lambda s, dx, dy: s < 0.985 and abs(dx) < 1 and abs(dy) < 1),
        ("pan left across the room", lambda s, dx, dy: dx > 8 and abs(dy) < 1),
        ("tilt down", lambda s, dx, dy: dy < -4 and abs(dx) < 1),
        ("locked-off shot", lambda s, dx, dy: abs(s - 1) < 0.003 and abs(dx) < 0.3 and abs(dy) < 0.3),
    ],
)
def test_camera_words_choose_the_move(
    still_clip: Path, tmp_path: Path, prompt: str, check: Callable[[float, float, float], bool]
) -> None:
    output = extend(still_clip, tmp_path, engine=ClassicExtend(grain=0), extend_seconds=4, text_prompt=prompt)
    frames = gray_frames(output)
    scale, dx, dy = similarity(frames[11], frames[-1])
    assert check(scale, dx, dy), (scale, dx, dy)


def test_prompt_vocabulary() -> None:
    move = move_from_prompt("Slow PUSH IN on the hero, then pan to the left and zoom out", 320, 180)
    assert move is not None and move.description == "slow zoom in and pan left"
    assert move.velocity[ZOOM] > 0 and move.velocity[DX] > 0 and move.velocity[DY] == 0
    tilt = move_from_prompt("tilting up to the sky", 320, 180)
    assert tilt is not None and tilt.velocity[DY] > 0 and tilt.origin == "from the prompt"
    static = move_from_prompt("static, tripod", 320, 180)
    assert static is not None and not static.velocity.any() and static.description == "locked-off camera"
    assert move_from_prompt("a cat in the sun", 320, 180) is None
    assert move_from_prompt(None, 320, 180) is None


def test_motion_estimate_finds_the_camera_not_the_objects() -> None:
    base = cv2.cvtColor(texture(400, 260, seed=4), cv2.COLOR_RGB2GRAY)
    centre = np.array([159.5, 89.5])
    times = [i / FPS for i in range(4)]

    def camera(i: int) -> np.ndarray:  # zoom 1 %/frame, turn 0.002 rad/frame, pan 1.5 px/frame
        scale, angle = np.exp(0.01 * i), 0.002 * i
        linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        shift = centre + np.array([1.5 * i, -0.5 * i]) - linear @ (centre + np.array([40.0, 40.0]))
        return cv2.warpAffine(base, np.hstack([linear, shift[:, None]]), (320, 180), flags=cv2.INTER_CUBIC)

    moving = estimate_motion([camera(i) for i in range(4)], times)
    assert moving.velocity / FPS == pytest.approx([1.5, -0.5, 0.01, 0.002], abs=0.03)
    assert moving.confidence == 1.0
    # A still background with a bright box crossing a fifth of it: the camera did not move.
    boxes = []
    for i in range(4):
        frame = base[:180, :320].copy()
        frame[60:140, 40 + 6 * i : 120 + 6 * i] = 255 - frame[60:140, 40 + 6 * i : 120 + 6 * i]
        boxes.append(frame)
    still = estimate_motion(boxes, times)
    assert np.abs(still.velocity[[DX, DY]] / FPS).max() < 0.05 and abs(still.velocity[TURN]) < 1e-3


def test_the_path_starts_at_the_source_velocity_and_keeps_edges_covered() -> None:
    move = move_from_prompt("pan right", 320, 180)
    assert move is not None
    path = plan_path(np.array([48.0, 0.0, 0.0, 0.0]), move, 240, 24.0, 320, 180)
    assert path[0, 0, 2] == pytest.approx(2.0, abs=0.02) and path[0, 0, 0] == pytest.approx(1.0, abs=1e-3)
    for matrix in path[48:]:  # Once the covering zoom is in, the output's corners show source pixels.
        inverse = cv2.invertAffineTransform(matrix)
        for corner in ((0, 0), (319, 0), (0, 179), (319, 179)):
            x, y = inverse @ [*corner, 1.0]
            assert -0.5 <= x <= 319.5 and -0.5 <= y <= 179.5


def flicker(frames: list[np.ndarray]) -> float:
    """Median mean-abs-difference of consecutive frames."""
    return float(np.median([mean_abs_diff(a, b) for a, b in itertools.pairwise(frames)]))


def test_grain_follows_the_source_noise(still_clip: Path, grainy_clip: Path, tmp_path: Path) -> None:
    for clip, grainy in ((grainy_clip, True), (still_clip, False)):
        source = gray_frames(clip)
        frames = gray_frames(extend(clip, tmp_path / clip.stem, extend_seconds=2, text_prompt="static"))
        settled = frames[12 + FPS :]  # after the grain has faded in; the camera is still
        if grainy:
            assert 0.4 * flicker(source) < flicker(settled) < 2 * flicker(source)
        else:
            assert flicker(settled) < 0.05


def test_same_seed_same_bytes_other_seed_other_move(
    still_clip: Path, grainy_clip: Path, tmp_path: Path
) -> None:
    first = extend(grainy_clip, tmp_path / "a", extend_seconds=2, seed=11).read_bytes()
    again = extend(grainy_clip, tmp_path / "b", extend_seconds=2, seed=11).read_bytes()
    assert first == again
    no_grain = ClassicExtend(grain=0)
    finals = []
    for seed in (1, 2):
        frames = gray_frames(
            extend(still_clip, tmp_path / f"seed-{seed}", engine=no_grain, extend_seconds=3, seed=seed)
        )
        finals.append(similarity(frames[11], frames[-1]))
    (s1, x1, y1), (s2, x2, y2) = finals
    assert abs(s1 - s2) > 0.01 or abs(x1 - x2) > 2 or abs(y1 - y2) > 2, finals


@pytest.mark.parametrize(
    ("width", "height", "rotation", "upright"),
    [(322, 180, 0, (322, 180)), (180, 322, 0, (180, 322)), (320, 180, 90, (180, 320))],
)
def test_odd_sizes_and_rotated_input(
    media: Path, tmp_path: Path, width: int, height: int, rotation: int, upright: tuple[int, int]
) -> None:
    clip = make_video(
        media / f"shape-{width}x{height}-{rotation}.mp4",
        width=width,
        height=height,
        seconds=0.5,
        rotation=rotation,
    )
    output = extend(clip, tmp_path, extend_seconds=1)
    info = probe_file(output, "video")
    assert (info.width, info.height, info.rotation) == (*upright, 0)
    assert info.duration == pytest.approx(1.5, abs=1 / FPS) and info.has_audio
    out_first, src_first = rgb_frames(output)[0], rgb_frames(clip)[0]  # the decoder turns the source upright
    assert out_first.shape[:2] == (upright[1], upright[0]) and psnr(out_first, src_first) >= 35


def test_variable_frame_rate_input(media: Path, tmp_path: Path) -> None:
    stamps = np.cumsum([0.0] + [0.03, 0.05, 0.04] * 8).tolist()
    clip = make_video(media / "vfr.mp4", width=160, height=90, timestamps=stamps)
    source = probe_file(clip, "video")
    output = extend(clip, tmp_path, extend_seconds=1)
    info = probe_file(output, "video")
    rate = source.frame_rate or FPS
    assert info.duration == pytest.approx(source.duration + 1, abs=1 / rate + 1e-3)
    with av.open(str(output)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    assert np.allclose(times[: len(stamps)], stamps, atol=2e-3)  # the source's own timing is kept
    assert len(times) == len(stamps) + round(rate)


@pytest.mark.parametrize("stop_after", [10, PAN_FRAMES + 20])
def test_cancel_stops_promptly_and_leaves_nothing(pan_clip: Path, tmp_path: Path, stop_after: int) -> None:
    recorder = Recorder(stop_after=stop_after)
    with pytest.raises(StopRequested):
        extend(pan_clip, tmp_path, recorder)
    assert recorder.stopped_at is not None and time.monotonic() - recorder.stopped_at < 1.0
    assert list(tmp_path.iterdir()) == []


def test_errors_say_what_is_wrong(pan_clip: Path, media: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"^The extend operation needs a video\.$"):
        ClassicExtend().run(EngineJob("extend", {"extend_seconds": 5}, output_dir=tmp_path), Recorder())
    with pytest.raises(EngineError) as bad_seconds:
        extend(pan_clip, tmp_path, extend_seconds="5")
    assert (
        str(bad_seconds.value)
        == "extend_seconds must be a number of seconds above 0 and at most 60, got '5'."
    )
    with pytest.raises(EngineError) as bad_seed:
        extend(pan_clip, tmp_path, seed=-4)
    assert str(bad_seed.value) == "seed must be a non-negative integer, got -4."
    full = make_video(media / "faststart.mp4", width=160, height=90, seconds=2, faststart=True)
    broken = make_corrupt_payload(full, media / "broken.mp4", from_fraction=0.3)  # 70 % is noise
    job = EngineJob(
        "extend", {"extend_seconds": 5}, broken, probe_file(full, "video"), output_dir=tmp_path / "b"
    )
    with pytest.raises(EngineError) as undecodable:
        ClassicExtend().run(job, Recorder())
    assert undecodable.value.reason == "INPUT_UNDECODABLE"
    assert str(undecodable.value).startswith("Only ")
    assert str(undecodable.value).endswith("too little is left to make the output.")
    assert list((tmp_path / "b").iterdir()) == []


def test_both_endpoints_extend_and_chain(
    make_server: Callable[..., Server], media: Path, tmp_path: Path
) -> None:
    server = make_server()
    api = server.new_user()
    api.create_account("x@example.com")
    clip = make_video(media / "http.mp4", width=160, height=90, seconds=1.0)
    asset = api.upload(clip, "video/mp4")
    created = api.create(
        "gen3/extend", {"assetId": asset["assetId"], "seconds": 5, "text_prompt": "zoom in", "seed": 9}
    )
    assert created.status_code == 200, created.text
    first = api.wait(created.json()["taskId"])
    assert first["status"] == "SUCCEEDED", first["error"]
    assert first["options"]["engine"] == "classic-extend" and first["options"]["extended_count"] == 1
    assert (
        first["progressText"]
        == "extending by 5 s: continuing the last motion into a slow zoom in (from the prompt)"
    )
    [artifact] = first["artifacts"]
    assert artifact["metadata"]["duration"] == pytest.approx(6.0, abs=1 / FPS + 1e-3)

    second_created = api.create("gen3turbo/extend", {"assetId": artifact["assetId"]})
    assert second_created.status_code == 200, second_created.text
    second = api.wait(second_created.json()["taskId"])
    assert second["status"] == "SUCCEEDED", second["error"]
    assert second["options"]["extended_count"] == 2
    assert second["options"]["extended_from_task_id"] == first["taskId"]
    out = tmp_path / "chained.mp4"
    out.write_bytes(httpx.get(second["artifacts"][0]["url"]).content)
    info = probe_file(out, "video")
    assert (info.width, info.height, info.has_audio) == (160, 90, True)
    assert info.duration == pytest.approx(1 + 5 + 8, abs=1 / FPS + 1e-3)
