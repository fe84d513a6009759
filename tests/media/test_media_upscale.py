"""ClassicUpscale end to end on tiny clips (the output is always 4K-class, so clips stay short)."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from mediafiles import make_corrupt_payload, make_truncated, make_video
from taxiway.engines.base import EngineError, EngineJob, StopRequested
from taxiway.engines.classic.upscale import ClassicUpscale
from taxiway.engines.media_errors import REASON_UNDECODABLE
from taxiway.media.geometry import four_k_class
from taxiway.media.probe import probe_file

FAST = {"preset": "ultrafast"}  # Same code path, much less x264 work at 4K.


class Recorder:
    """A progress callback that records calls and can request a stop after some of them."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[tuple[float, float]] = []
        self.stop_after = stop_after
        self.stopped_at: float | None = None

    def __call__(self, done: float, total: float, text: str | None = None) -> None:
        self.calls.append((done, total))
        if self.stop_after is not None and len(self.calls) > self.stop_after:
            self.stopped_at = time.monotonic()
            raise StopRequested()


TOO_DAMAGED = (
    r"^Only \d+% of the video's frames could be decoded \(damaged from [\d.]+ s\): "
    r"too little is left to make the output\.$"
)


def _job(path: Path, out: Path) -> EngineJob:
    return EngineJob("upscale", {}, video=path, video_info=probe_file(path, "video"), output_dir=out)


def _streams(path: Path) -> tuple[dict, dict | None]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        video = {
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height),
            "colorspace": v.codec_context.colorspace,
            "primaries": v.codec_context.color_primaries,
            "trc": v.codec_context.color_trc,
            "duration": float(v.duration * v.time_base),
            "format": c.format.name,
        }
        audio = None
        if c.streams.audio:
            a = c.streams.audio[0]
            audio = {"codec": a.codec_context.name, "duration": float(a.duration * a.time_base)}
    return video, audio


def test_upscale_mp4_with_audio(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("up.mp4", width=160, height=90, seconds=0.5)
    job = _job(source, tmp_path / "out")
    progress = Recorder()
    result = ClassicUpscale(**FAST).run(job, progress)

    assert result == tmp_path / "out" / "output.mp4"
    assert sorted(p.name for p in result.parent.iterdir()) == ["output.mp4"]  # no work files left
    info = probe_file(result, "video")
    assert (info.width, info.height) == four_k_class(160, 90) == (4096, 2304)
    assert info.frame_count == 12
    assert info.rotation == 0
    video, audio = _streams(result)
    assert (
        video["codec"] == "h264" and video["pix_fmt"] == "yuv420p" and video["format"].startswith("mov,mp4")
    )
    assert (video["colorspace"], video["primaries"], video["trc"]) == (1, 1, 1)  # BT.709 tags
    assert abs(video["duration"] - 0.5) <= 1 / 24
    assert audio is not None and audio["codec"] == "aac"
    assert abs(audio["duration"] - video["duration"]) <= 1 / 24
    # Faststart: the index precedes the media data.
    data = result.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")

    assert progress.calls[0] == (0, 12)
    assert progress.calls[-1] == (12, 12)
    dones = [done for done, _ in progress.calls]
    assert dones == sorted(dones)
    assert all(b - a <= 10 for a, b in itertools.pairwise(dones))
    assert all(done <= total for done, total in progress.calls)


def test_audio_is_copied_not_reencoded(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("up.mp4", width=160, height=90, seconds=0.5)
    result = ClassicUpscale(**FAST).run(_job(source, tmp_path), Recorder())

    def audio_payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size][:10]

    assert audio_payloads(result) == audio_payloads(source)


def test_webm_opus_audio_is_transcoded_to_aac(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("up.webm", width=160, height=120, seconds=0.5)
    result = ClassicUpscale(**FAST).run(_job(source, tmp_path), Recorder())
    info = probe_file(result, "video")
    assert (info.width, info.height) == (4096, 3072)
    video, audio = _streams(result)
    assert audio is not None and audio["codec"] == "aac"
    assert abs(video["duration"] - 0.5) <= 1 / 24
    assert abs(audio["duration"] - video["duration"]) <= 0.01  # transcoding trims exactly
    with av.open(str(result)) as c:
        samples = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    # The 440 Hz tone survived: dominant frequency of the decoded audio.
    spectrum = np.abs(np.fft.rfft(samples[4800:]))
    assert abs(np.argmax(spectrum) * 48000 / len(samples[4800:]) - 440) < 10


def test_no_audio_in_no_audio_out_and_rotation_applied(media_dir: Path, tmp_path: Path) -> None:
    picture = np.full((120, 160, 3), 128, np.uint8)
    picture[:20, :20] = (255, 0, 0)  # red block top-left in the stored picture
    source = make_video(media_dir / "portrait.mov", frames=[picture] * 4, audio=False, rotation=90)
    result = ClassicUpscale(**FAST).run(_job(source, tmp_path), Recorder())
    info = probe_file(result, "video")
    assert (info.width, info.height) == four_k_class(120, 160) == (2880, 3840)
    assert info.rotation == 0 and info.has_audio is False
    with av.open(str(result)) as c:
        assert not c.streams.audio
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    # Upright: a 90° clockwise display rotation puts the stored top-left corner at the top-right.
    assert rgb[:200, -200:, 0].mean() > 200 and rgb[:200, -200:, 1].mean() < 80
    assert rgb[:200, :200, 0].mean() < 160


def test_variable_frame_rate_timing_is_kept(clip: Callable[..., Path], tmp_path: Path) -> None:
    times = [0.0, 0.04, 0.1, 0.2, 0.21, 0.5]
    source = clip("vfr.mp4", width=64, height=48, timestamps=times, audio=False)
    result = ClassicUpscale(**FAST).run(_job(source, tmp_path), Recorder())
    with av.open(str(result)) as c:
        out_times = [float(f.time) for f in c.decode(video=0)]
    assert out_times == pytest.approx(times, abs=1e-3)
    assert probe_file(result, "video").duration == pytest.approx(
        probe_file(source, "video").duration, abs=1e-3
    )


def test_default_settings_and_odd_source(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("odd.mkv", width=321, height=241, pix_fmt="yuv444p", seconds=0.25, audio=False)
    result = ClassicUpscale().run(_job(source, tmp_path), Recorder())  # veryfast, crf 18
    info = probe_file(result, "video")
    assert (info.width, info.height) == (4096, 3076)
    assert info.frame_count == 6


def test_stop_requested_stops_promptly_and_leaves_nothing(clip: Callable[..., Path], tmp_path: Path) -> None:
    source = clip("long.mp4", width=160, height=90, seconds=4)
    out = tmp_path / "out"
    progress = Recorder(stop_after=3)
    threads_before = threading.active_count()
    with pytest.raises(StopRequested):
        ClassicUpscale(**FAST).run(_job(source, out), progress)
    stopped_in = time.monotonic() - (progress.stopped_at or 0)
    assert stopped_in < 1.0
    assert progress.calls[-1][0] < 96  # stopped part-way
    assert list(out.iterdir()) == []  # neither output.mp4 nor hidden work files
    assert threading.active_count() == threads_before  # the decode thread is gone


def test_truncated_input_fails_before_any_work(clip: Callable[..., Path], tmp_path: Path) -> None:
    full = clip("fs.mp4", width=160, height=90, seconds=2, faststart=True)
    info = probe_file(full, "video")  # probed while intact (probe itself rejects the cut file)
    cut = make_truncated(full, tmp_path / "cut.mp4", 0.6)
    job = EngineJob("upscale", {}, video=cut, video_info=info, output_dir=tmp_path / "out")
    progress = Recorder()
    with pytest.raises(EngineError) as caught:
        ClassicUpscale(**FAST).run(job, progress)
    assert caught.value.reason == REASON_UNDECODABLE
    assert str(caught.value) == "The video file is truncated: only 60% of its data is present."
    assert progress.calls == [(0, 48)]
    assert list((tmp_path / "out").iterdir()) == []


def test_input_that_breaks_mid_way_is_an_engine_error(clip: Callable[..., Path], tmp_path: Path) -> None:
    full = clip("fs.mp4", width=160, height=90, seconds=2, faststart=True)
    info = probe_file(full, "video")
    broken = make_corrupt_payload(full, tmp_path / "noise.mp4", from_fraction=0.3)  # 70 % is noise
    job = EngineJob("upscale", {}, video=broken, video_info=info, output_dir=tmp_path / "out")
    progress = Recorder()
    with pytest.raises(EngineError) as caught:
        ClassicUpscale(**FAST).run(job, progress)
    assert caught.value.reason == REASON_UNDECODABLE
    message = str(caught.value)
    assert re.match(
        TOO_DAMAGED,
        message,
    )
    assert 5 <= progress.calls[-1][0] < 48  # it got part-way
    assert list((tmp_path / "out").iterdir()) == []


def test_missing_video_is_an_engine_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="needs a video"):
        ClassicUpscale().run(EngineJob("upscale", {}, output_dir=tmp_path), Recorder())


def test_engine_identity() -> None:
    engine = ClassicUpscale()
    assert engine.name == "classic-upscale"
    assert (engine.preset, engine.crf, engine.interpolation) == ("veryfast", 18, "lanczos")


def test_timestamp_discontinuity_in_mpeg_ts(clip: Callable[..., Path], tmp_path: Path) -> None:
    part = clip("part.ts", width=64, height=48, seconds=0.5).read_bytes()
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part + part)  # the second half's timestamps restart from ~0
    result = ClassicUpscale(**FAST).run(_job(joined, tmp_path / "out"), Recorder())
    video, audio = _streams(result)
    assert probe_file(result, "video").frame_count == 24
    assert video["duration"] == pytest.approx(1.0, abs=1 / 24)
    assert audio is not None and audio["duration"] == pytest.approx(video["duration"], abs=0.05)


@pytest.mark.parametrize("audio_codec", ["aac", "libopus"], ids=["copied", "transcoded"])
def test_audio_never_outlasts_the_picture(media_dir: Path, tmp_path: Path, audio_codec: str) -> None:
    """A source whose sound runs 2 s past its last frame: the output's audio stops with the video."""
    from mediafiles import make_video_cli

    suffix = ".mp4" if audio_codec == "aac" else ".mkv"
    source = make_video_cli(
        media_dir / f"long-sound{suffix}",
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=12:duration=1",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=3",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", audio_codec,
    )  # fmt: skip
    info = probe_file(source, "video")
    out = ClassicUpscale(**FAST).run(
        EngineJob("upscale", {}, video=source, video_info=info, output_dir=tmp_path), Recorder()
    )
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        video_end = float(video.duration * video.time_base)
        audio_end = float(audio.duration * audio.time_base)
    assert abs(video_end - 1.0) <= 1 / 12 + 1e-3
    # Copied AAC may end within one packet (~21 ms) of the cut; transcoded audio ends on it.
    assert video_end - 0.05 <= audio_end <= video_end + 0.025
