"""The arithmetic of diffusion video: sizes on the model's grid, 4k+1 counts, windows, rate changes."""

from __future__ import annotations

import itertools

import pytest

from taxiway.engines.neural.frame_plan import (
    four_k_plus_one,
    frame_count,
    generation_size,
    held_index,
    sample_at_rate,
    windows,
)


@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [
        ((16, 9), "480p", (848, 480)),
        ((9, 16), "480p", (480, 848)),
        ((16, 9), "720p", (1280, 720)),
        ((1280, 768), "720p", (1200, 720)),  # the contract's 5:3
        ((1280, 768), "480p", (800, 480)),
        ((1, 1), "480p", (480, 480)),
        ((1920, 800), 256, (608, 256)),  # a draft size in pixels
    ],
)
def test_sizes_keep_the_aspect_on_a_16_pixel_grid(
    aspect: tuple[int, int], resolution: str, size: tuple
) -> None:
    assert generation_size(*aspect, resolution) == size
    assert size[0] % 16 == 0 and size[1] % 16 == 0


def test_frame_counts() -> None:
    assert [four_k_plus_one(n) for n in (0, 1, 2, 5, 6, 80, 81, 82)] == [1, 1, 5, 5, 9, 81, 81, 85]
    assert frame_count(5, 16) == 80 and frame_count(1.5, 16) == 24 and frame_count(0.01, 16) == 1
    assert frame_count(1 / 3, 24) == 8  # float noise does not add a frame


def test_windows_chain_on_context_frames_and_cover_everything() -> None:
    assert windows(81, 81, 8) == [range(0, 81)]
    assert windows(10, 81, 8) == [range(0, 13)]  # 4k+1, the extra frames are dropped
    spans = windows(8 + 160, 81, 8)  # extend by 10 s at 16 fps
    assert spans == [range(0, 81), range(73, 154), range(146, 171)]
    for before, after in itertools.pairwise(spans):
        assert after.start == before.stop - 8
    assert all(len(span) % 4 == 1 and len(span) <= 81 for span in spans)
    with pytest.raises(ValueError):
        windows(100, 80, 8)


def test_sampling_holds_each_frame_until_the_next_starts() -> None:
    at_30 = [(k / 30, k) for k in range(30)]
    assert list(sample_at_rate(at_30, 16, 8)) == [0, 1, 3, 5, 7, 9, 11, 13]
    at_8 = [(k / 8, k) for k in range(3)]
    assert list(sample_at_rate(at_8, 16, 8)) == [0, 0, 1, 1, 2, 2, 2, 2]  # the last is held
    assert list(sample_at_rate([], 16, 4)) == []
    # A first frame after 0 s shows from the start.
    assert list(sample_at_rate([(0.05, "a"), (0.2, "b")], 16, 4)) == ["a", "a", "a", "a"]


def test_held_index_maps_output_times_to_generated_frames() -> None:
    assert [held_index(k / 24, 16, 80) for k in range(7)] == [0, 0, 1, 2, 2, 3, 4]
    assert held_index(100.0, 16, 80) == 79
