"""The classic restyle engine (gen3turbo/video): prompt → look, crop + scale, looks, timing, HTTP.

Most tests call the engine directly on tiny generated clips and small output sizes; the sizes of
the contract (1280×768, 768×1280) are checked with a handful of frames.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from mediafiles import make_corrupt_payload, make_video, make_video_cli, pattern_frame
from support import Api, Server
from taxiway.engines.base import EngineError, EngineJob, StopRequested
from taxiway.engines.classic.looks import DEFAULT_LOOK, LOOK_NAMES, VOCABULARY, LookChoice, resolve_look
from taxiway.engines.classic.restyle import ClassicRestyle
from taxiway.engines.classic.restyle_looks import LookRenderer
from taxiway.media.probe import probe_file
from taxiway.media.rgb_frames import CropScaleRGB, centre_crop

DEFAULT_SENTENCE = "no look recognised in the prompt; using the default look 'cinematic'"

# ---------------------------------------------------------------------------------------------
# Prompt → look (no video needed)

SYNONYMS = {
    "cinematic": ["a cinematic shot of a harbour", "Hollywood blockbuster feel"],
    "noir": ["a street in black and white", "B&W photo", "film noir detective", "Monochrome city"],
    "sepia": ["a vintage home movie", "like an OLD FILM", "antique postcard", "retro vibes"],
    "cartoon": ["turn it into a cartoon", "anime style", "cel-shaded game", "a comic book panel"],
    "sketch": ["a pencil sketch of the room", "charcoal drawing", "line art", "sketches of people"],
    "oil painting": ["an oil painting", "impressionist garden", "painterly look", "oil paint on canvas"],
    "watercolor": ["watercolour landscape", "an aquarelle", "Watercolor"],
    "neon": ["cyberpunk city", "synthwave drive", "neon lights", "vaporwave mall"],
    "warm": ["golden hour light", "at sunset", "a sunny day", "make it warm"],
    "cool": ["icy lake", "a cold morning", "winter forest", "blue tone grade"],
    "night": ["day for night", "moonlight over the sea", "nighttime traffic", "day-for-night"],
}


@pytest.mark.parametrize("look", sorted(SYNONYMS))
def test_every_look_is_recognised_from_several_synonyms(look: str) -> None:
    for prompt in SYNONYMS[look]:
        choice = resolve_look(prompt)
        assert choice.name == look, prompt
        assert choice.recognised and choice.matched in VOCABULARY[look], prompt
    assert len(VOCABULARY[look]) >= 3


def test_vocabulary_covers_exactly_the_looks() -> None:
    assert set(SYNONYMS) == set(LOOK_NAMES) == set(VOCABULARY)
    assert DEFAULT_LOOK == "cinematic"


@pytest.mark.parametrize(
    "prompt", ["a dog on a skateboard", "", "cartoonist at a desk", "a knight", "warmth"]
)
def test_no_recognised_look_gives_the_default_with_its_message(prompt: str) -> None:
    choice = resolve_look(prompt)
    assert choice == LookChoice("cinematic", recognised=False, matched=None)
    assert choice.describe() == DEFAULT_SENTENCE


def test_describe_names_the_look_and_the_trigger() -> None:
    assert resolve_look("A street in Black-and-White").describe() == "look 'noir' (matched 'black and white')"


def test_the_first_look_in_the_prompt_wins() -> None:
    assert resolve_look("a noir scene at sunset").name == "noir"
    assert resolve_look("a sunset scene in noir").name == "warm"
    assert resolve_look("watercolor of a cyberpunk city at night").name == "watercolor"
    # At the same position the longer trigger wins.
    assert resolve_look("day for night").matched == "day for night"
    assert resolve_look("film noir").matched == "film noir"


def test_looks_module_imports_no_media_libraries() -> None:
    code = (
        "import sys, taxiway.engines.classic.looks as l; l.resolve_look('noir');"
        "print(sorted(m for m in ('cv2', 'numpy', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# The engine, called directly


def run_engine(
    src: Path, out_dir: Path, progress: Callable[..., None] | None = None, **params: Any
) -> tuple[Path, list[str]]:
    """Run ClassicRestyle on ``src``; returns the output and the progress texts."""
    texts: list[str] = []

    def on_progress(done: float, total: float, text: str | None = None) -> None:
        assert 0 <= done <= total
        if text:
            texts.append(text)
        if progress is not None:
            progress(done, total, text)

    params = {"text_prompt": "", "width": 320, "height": 192, "seed": 1} | params
    job = EngineJob(
        "video_to_video", params, video=src, video_info=probe_file(src, "video"), output_dir=out_dir
    )
    return ClassicRestyle(preset="ultrafast").run(job, on_progress), texts


def decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base)


def plain_frames(src: Path, width: int, height: int) -> list[np.ndarray]:
    """The source's frames centre-cropped and scaled, without a look: the reference."""
    crop_scale = CropScaleRGB(width, height)
    with av.open(str(src)) as container:
        return [crop_scale(frame) for frame in container.decode(video=0)]


def mean_difference(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert len(a) == len(b)
    return float(np.mean([np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b, strict=True)]))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s, 12 fps, 160×96 with audio: the everyday source."""
    return make_video(
        tmp_path_factory.mktemp("restyle") / "clip.mp4", width=160, height=96, seconds=1.0, fps=12
    )


@pytest.mark.parametrize(
    ("src_w", "src_h"), [(320, 180), (180, 320), (240, 240)], ids=["land", "port", "square"]
)
@pytest.mark.parametrize("aspect", ["landscape", "portrait"])
def test_output_has_the_contract_size(tmp_path: Path, src_w: int, src_h: int, aspect: str) -> None:
    src = make_video(tmp_path / "src.mp4", width=src_w, height=src_h, seconds=0.25, fps=12, audio=False)
    size = (1280, 768) if aspect == "landscape" else (768, 1280)
    out, _ = run_engine(
        src, tmp_path / "out", text_prompt="noir", aspect_ratio=aspect, width=size[0], height=size[1]
    )
    info = probe_file(out, "video")
    assert (info.width, info.height) == size
    assert info.frame_count == 3 and info.frame_rate == 12
    assert not info.has_audio


def _marker_clip(path: Path, width: int, height: int, side: int) -> Path:
    picture = np.zeros((height, width, 3), np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    picture[top : top + side, left : left + side] = 255
    return make_video(path, width=width, height=height, frames=[picture] * 3, fps=12, audio=False)


@pytest.mark.parametrize(
    ("src", "out"), [((320, 180), (192, 320)), ((180, 320), (320, 192)), ((240, 240), (320, 192))]
)
def test_centre_crop_keeps_a_centred_marker_centred_and_square(
    tmp_path: Path, src: tuple[int, int], out: tuple[int, int]
) -> None:
    clip = _marker_clip(tmp_path / "marker.mp4", *src, side=40)
    result, _ = run_engine(
        clip, tmp_path / "out", text_prompt="cool", structure_transformation=0, width=out[0], height=out[1]
    )
    luma = decode_rgb(result)[0].mean(axis=2)
    ys, xs = np.nonzero(luma > 128)
    assert abs(xs.mean() - (out[0] - 1) / 2) < 1.5 and abs(ys.mean() - (out[1] - 1) / 2) < 1.5
    # The crop keeps the aspect ratio: the square stays square, scaled by output width / crop width.
    w, _, _, _ = centre_crop(*src, *out)
    expected = 40 * out[0] / w
    assert abs((xs.max() - xs.min() + 1) - expected) <= 2 and abs((ys.max() - ys.min() + 1) - expected) <= 2


def test_noir_is_grey(clip: Path, tmp_path: Path) -> None:
    out, texts = run_engine(clip, tmp_path / "out", text_prompt="a city in black and white")
    assert texts[0] == "applying look 'noir' (matched 'black and white') at strength 3/10"
    frames = np.stack(decode_rgb(out)).astype(np.int16)
    spread = np.abs(frames[..., 0] - frames[..., 1]) + np.abs(frames[..., 1] - frames[..., 2])
    assert spread.mean() < 1.5 and np.percentile(spread, 99) <= 6
    assert frames.std() > 20  # Still a picture, not a flat grey.


def _red_minus_blue(frames: list[np.ndarray]) -> float:
    stack = np.stack(frames).astype(np.float32)
    return float((stack[..., 0] - stack[..., 2]).mean())


def test_sepia_warm_and_cool_shift_the_colour_balance(clip: Path, tmp_path: Path) -> None:
    plain = _red_minus_blue(plain_frames(clip, 320, 192))
    balance = {
        look: _red_minus_blue(decode_rgb(run_engine(clip, tmp_path / look, text_prompt=look)[0]))
        for look in ("sepia", "warm", "cool")
    }
    assert balance["sepia"] > 15 and balance["sepia"] > plain + 10
    assert balance["warm"] > plain + 8
    assert balance["cool"] < plain - 8


@pytest.mark.parametrize("look", LOOK_NAMES)
def test_strength_is_monotonic(clip: Path, tmp_path: Path, look: str) -> None:
    plain = plain_frames(clip, 320, 192)
    diffs = []
    for strength in (0, 3, 10):
        out, _ = run_engine(
            clip, tmp_path / f"s{strength}", text_prompt=look, structure_transformation=strength
        )
        diffs.append(mean_difference(decode_rgb(out), plain))
    assert 2.0 < diffs[0] < diffs[1] < diffs[2], diffs  # Visible even at 0, stronger at 3 and at 10.


@pytest.mark.parametrize("look", LOOK_NAMES)
def test_looks_do_not_amplify_noise_into_flicker(look: str) -> None:
    """A still scene with sensor-like noise: the styled frames must not change more than the input
    does (fixed quantization levels, soft ink, static textures). The frame index is held constant
    so that film grain, which is meant to move, is left out of the comparison."""
    rng = np.random.default_rng(3)
    scene = pattern_frame(320, 192, 5)
    noisy = [np.clip(scene + rng.normal(0, 1.5, scene.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    renderer = LookRenderer(look, 10, 320, 192, seed=1)
    styled = [renderer(frame, 0) for frame in noisy]
    assert all(np.array_equal(renderer(noisy[0], 0), styled[0]) for _ in range(2))  # Deterministic.

    def change(frames: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in itertools.pairwise(frames)]))

    assert change(styled) < 1.5 * change(noisy)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"], ids=["aac-copied", "opus-transcoded"])
def test_output_seconds_trims_video_and_audio(tmp_path: Path, suffix: str) -> None:
    src = make_video(tmp_path / f"long{suffix}", width=160, height=96, seconds=3.0, fps=24)
    out, _ = run_engine(src, tmp_path / "out", text_prompt="sepia", output_seconds=1.25)
    info = probe_file(out, "video")
    assert abs(info.duration - 1.25) <= 1 / 24 and info.frame_count == 30
    assert info.has_audio and abs(audio_seconds(out) - 1.25) < 0.05


def test_audio_stays_in_sync_with_the_picture(tmp_path: Path) -> None:
    """A flash and a beep at t = 1 s in the source are still together in the (trimmed) output."""
    flash_at_1s = "color=black:size=160x96:rate=24:duration=2,drawbox=c=white:t=fill:enable='gte(t,1)'"
    src = make_video_cli(
        tmp_path / "flash.mp4",
        "-f", "lavfi", "-i", flash_at_1s,
        "-f", "lavfi", "-i", "aevalsrc='if(gte(t,1),0.5*sin(2*PI*440*t),0)':s=48000:d=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
    )  # fmt: skip
    out, _ = run_engine(
        src, tmp_path / "out", text_prompt="cool", structure_transformation=0, output_seconds=1.5
    )
    with av.open(str(out)) as container:
        flash = next(f.time for f in container.decode(video=0) if f.to_ndarray(format="gray").mean() > 100)
    with av.open(str(out)) as container:
        beep = next(
            f.time + int(np.argmax(np.abs(f.to_ndarray()).max(axis=0) > 0.1)) / f.sample_rate
            for f in container.decode(audio=0)
            if np.abs(f.to_ndarray()).max() > 0.1
        )
    assert flash == pytest.approx(1.0, abs=1 / 24) and beep == pytest.approx(flash, abs=1 / 24)
    assert abs(audio_seconds(out) - 1.5) < 0.05


def test_audio_longer_than_the_picture_is_cut_at_the_picture(tmp_path: Path) -> None:
    src = make_video_cli(
        tmp_path / "long-audio.mp4",
        "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=12:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
    )  # fmt: skip
    # Planning passes the asset's duration (3 s, the audio's) as output_seconds.
    out, _ = run_engine(src, tmp_path / "out", output_seconds=3.0)
    info = probe_file(out, "video")
    assert info.frame_count == 12 and abs(info.duration - 1.0) <= 1 / 12
    assert abs(audio_seconds(out) - 1.0) < 0.05


def test_output_seconds_past_the_end_keeps_the_whole_source(clip: Path, tmp_path: Path) -> None:
    out, _ = run_engine(clip, tmp_path / "out", output_seconds=5.0)
    info = probe_file(out, "video")
    assert abs(info.duration - 1.0) <= 1 / 12 and info.frame_count == 12
    assert abs(audio_seconds(out) - info.duration) < 0.05
    assert frame_times(out)[:3] == pytest.approx([0, 1 / 12, 2 / 12], abs=1e-3)


@pytest.mark.parametrize(
    ("width", "height", "pix_fmt"), [(322, 180, "yuv420p"), (180, 322, "yuv420p"), (321, 181, "yuv444p")]
)
def test_odd_source_sizes(tmp_path: Path, width: int, height: int, pix_fmt: str) -> None:
    src = make_video(tmp_path / "odd.mp4", width=width, height=height, seconds=0.5, fps=12, pix_fmt=pix_fmt)
    out, _ = run_engine(src, tmp_path / "out", text_prompt="cartoon")
    info = probe_file(out, "video")
    assert (info.width, info.height, info.frame_count) == (320, 192, 6) and info.has_audio


def test_rotated_source_is_restyled_upright(tmp_path: Path) -> None:
    stored = np.zeros((180, 320, 3), np.uint8)
    stored[:40] = (255, 0, 0)  # A red band along the stored top: shown on the right once upright.
    src = make_video(
        tmp_path / "phone.mp4", width=320, height=180, frames=[stored] * 3, fps=12, rotation=90, audio=False
    )
    assert probe_file(src, "video").rotation == 90
    out, _ = run_engine(
        src, tmp_path / "out", text_prompt="warm", structure_transformation=0, width=192, height=320
    )
    picture = decode_rgb(out)[0].astype(np.float32)
    assert picture[:, -20:, 0].mean() > 150 and picture[:, :150, 0].mean() < 30


def test_variable_frame_rate_timing_is_kept(tmp_path: Path) -> None:
    times = [0.0, 0.04, 0.2, 0.25, 0.5, 0.52, 0.7, 0.9]
    src = make_video(tmp_path / "vfr.mp4", width=160, height=96, timestamps=times, fps=24)
    out, _ = run_engine(src, tmp_path / "out", text_prompt="neon")
    assert frame_times(out) == pytest.approx(frame_times(src), abs=2e-3)
    info = probe_file(out, "video")
    assert abs(info.duration - (0.9 + 1 / 24)) <= 1 / 24 and abs(audio_seconds(out) - info.duration) < 0.05


def test_same_input_and_seed_give_identical_bytes(clip: Path, tmp_path: Path) -> None:
    # Noir at strength 10 carries grain: the seed and frame index decide it, nothing else.
    first, _ = run_engine(clip, tmp_path / "a", text_prompt="noir", structure_transformation=10, seed=42)
    second, _ = run_engine(clip, tmp_path / "b", text_prompt="noir", structure_transformation=10, seed=42)
    other, _ = run_engine(clip, tmp_path / "c", text_prompt="noir", structure_transformation=10, seed=43)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_progress_text_names_the_look_and_strength(clip: Path, tmp_path: Path) -> None:
    _, texts = run_engine(clip, tmp_path / "a", text_prompt="Film Noir", structure_transformation=7)
    assert texts[0] == "applying look 'noir' (matched 'film noir') at strength 7/10"
    _, texts = run_engine(clip, tmp_path / "b", text_prompt="a dog", structure_transformation=2.5)
    assert texts[0] == f"{DEFAULT_SENTENCE} at strength 2.5/10"


def test_cancel_stops_and_leaves_no_output(tmp_path: Path) -> None:
    src = make_video(tmp_path / "long.mp4", width=160, height=96, seconds=4.0, fps=24)
    calls = []

    def cancel_after_two(done: float, total: float, text: str | None = None) -> None:
        calls.append(done)
        if len(calls) > 2:
            raise StopRequested()

    with pytest.raises(StopRequested):
        run_engine(src, tmp_path / "out", cancel_after_two, text_prompt="cartoon")
    assert list((tmp_path / "out").iterdir()) == []
    assert max(calls) < 96


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"structure_transformation": 11},
            "structure_transformation must be a number from 0 to 10, got 11.",
        ),
        (
            {"width": 321},
            "The output size 321×192 cannot be encoded: "
            "width and height must be even numbers from 2 to 4096.",
        ),
        ({"output_seconds": 0}, "output_seconds must be a positive number of seconds, got 0."),
        ({"seed": "x"}, "seed must be a non-negative integer, got 'x'."),
        ({"text_prompt": 5}, "text_prompt must be a string."),
    ],
)
def test_bad_params_are_refused_with_a_clear_message(
    clip: Path, tmp_path: Path, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(EngineError) as caught:
        run_engine(clip, tmp_path / "out", **params)
    assert str(caught.value) == message
    assert caught.value.reason == "BAD_PARAMS"


def test_a_job_without_video_is_refused(tmp_path: Path) -> None:
    job = EngineJob("video_to_video", {"text_prompt": "noir"}, output_dir=tmp_path)
    with pytest.raises(EngineError, match=r"^The video to video operation needs a video\.$"):
        ClassicRestyle().run(job, lambda done, total, text=None: None)


def test_undecodable_video_fails_with_the_decoder_message(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "src.mp4", width=160, height=96, seconds=2.0, fps=12, faststart=True)
    broken = make_corrupt_payload(clip, tmp_path / "broken.mp4", from_fraction=0.3)
    with pytest.raises(EngineError) as caught:
        run_engine(broken, tmp_path / "out")
    assert caught.value.reason == "INPUT_UNDECODABLE"
    assert str(caught.value) == (
        "Only 29% of the video's frames could be decoded (damaged from 0.50 s): too little is left to "
        "make the output."
    )
    assert not (tmp_path / "out" / "output.mp4").exists()


# ---------------------------------------------------------------------------------------------
# Through HTTP


@pytest.fixture
def user(make_server: Callable[..., Server]) -> Api:
    api = make_server(workers=1).new_user()
    api.create_account("restyle@example.com", max_jobs=10)
    return api


def _restyle(user: Api, asset_id: str, tmp_path: Path, **body: Any) -> tuple[dict[str, Any], Path]:
    created = user.create("gen3turbo/video", {"assetId": asset_id, "seconds": 5, **body})
    assert created.status_code == 200, created.text
    task = user.wait(created.json()["taskId"])
    assert task["status"] == "SUCCEEDED", task["error"]
    out = tmp_path / f"{task['id']}.mp4"
    out.write_bytes(httpx.get(task["artifacts"][0]["url"]).content)
    return task, out


def test_http_restyle_landscape_portrait_and_default_look(user: Api, tmp_path: Path) -> None:
    src = make_video(tmp_path / "src.mp4", width=320, height=180, seconds=1.0, fps=12)
    asset = user.upload(src, "video/mp4")["assetId"]
    for aspect, size in (("landscape", [1280, 768]), ("portrait", [768, 1280])):
        task, out = _restyle(user, asset, tmp_path, text_prompt="a noir alley", aspect_ratio=aspect)
        assert task["options"]["engine"] == "classic-restyle"
        [artifact] = task["artifacts"]
        assert artifact["metadata"]["dimensions"] == size
        info = probe_file(out, "video")
        assert [info.width, info.height] == size and info.frame_count == 12
        assert abs(info.duration - 1.0) <= 1 / 12 and info.has_audio
        assert abs(audio_seconds(out) - info.duration) < 0.05
        frames = np.stack(decode_rgb(out)[:2]).astype(np.int16)
        assert np.abs(frames[..., 0] - frames[..., 2]).mean() < 2  # Noir: grey.

    task, out = _restyle(
        user, asset, tmp_path, text_prompt="a dog on a skateboard", structure_transformation=5
    )
    assert task["options"]["look"] == "cinematic"
    assert probe_file(out, "video").frame_count == 12
    frames = np.stack(decode_rgb(out)[:2]).astype(np.int16)
    assert np.abs(frames[..., 0] - frames[..., 2]).mean() > 10  # The default grade keeps colour.


def test_frame_rate_kept_from_source(tmp_path: Path) -> None:
    src = make_video(
        tmp_path / "ntsc.mp4", width=160, height=96, seconds=0.5, fps=Fraction(30000, 1001), audio=False
    )
    out, _ = run_engine(src, tmp_path / "out", text_prompt="night")
    info = probe_file(out, "video")
    assert info.frame_rate == pytest.approx(29.97, abs=0.01) and info.frame_count == 15
