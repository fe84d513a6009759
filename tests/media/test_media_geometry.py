"""Output-size rules: four_k_class, fit_within, nearest_even, rotated_size."""

from __future__ import annotations

import pytest

from taxiway.media.geometry import fit_within, four_k_class, nearest_even, rotated_size


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 720), (4096, 2304)),  # required
        ((1080, 1920), (2160, 3840)),  # required
        ((1920, 1080), (4096, 2304)),
        ((3840, 2160), (4096, 2304)),
        ((640, 360), (4096, 2304)),
        ((720, 1280), (2160, 3840)),
        ((360, 640), (2160, 3840)),
        ((640, 480), (4096, 3072)),
        ((480, 640), (2880, 3840)),
        ((1000, 1000), (4096, 4096)),  # square counts as landscape
        ((2, 2), (4096, 4096)),
        ((321, 241), (4096, 3076)),  # 3075.09 -> nearest even 3076
        ((241, 321), (2882, 3840)),  # 2882.99 -> nearest even 2882
        ((720, 576), (4096, 3276)),  # 3276.8 -> 3276
        ((1440, 1080), (4096, 3072)),
        ((8192, 2), (4096, 2)),  # the short side never drops below 2
        ((2, 8192), (2, 3840)),
    ],
)
def test_four_k_class(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert four_k_class(*size) == expected


@pytest.mark.parametrize("width", [2, 3, 17, 320, 321, 1279, 1280, 1920, 4095, 4096, 7680])
@pytest.mark.parametrize("height", [2, 5, 240, 241, 719, 720, 1080, 2160, 4321])
def test_four_k_class_invariants(width: int, height: int) -> None:
    w, h = four_k_class(width, height)
    assert w % 2 == 0 and h % 2 == 0
    if width >= height:
        assert w == 4096
        exact = height * 4096 / width
    else:
        assert h == 3840
        exact = width * 3840 / height
    short = h if width >= height else w
    # Nearest even number: never more than one pixel from the exact scaled size.
    assert abs(short - exact) <= 1 or short == 2


@pytest.mark.parametrize("bad", [(0, 720), (1280, 0), (-2, 4)])
def test_four_k_class_rejects_empty_sizes(bad: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        four_k_class(*bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.4, 2), (2.0, 2), (2.9, 2), (3.0, 4), (3.1, 4), (5.0, 6), (3075.09, 3076), (7.0, 8)],
)
def test_nearest_even(value: float, expected: int) -> None:
    assert nearest_even(value) == expected


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((1280, 720), 640, (640, 360)),
        ((720, 1280), 640, (360, 640)),
        ((1920, 1080), 640, (640, 360)),
        ((320, 240), 640, (320, 240)),  # never upscaled
        ((321, 241), 640, (320, 240)),  # odd sizes become even without growing
        ((4000, 3000), 500, (500, 376)),  # 375 -> nearest even
        ((100, 4000), 640, (16, 640)),
    ],
)
def test_fit_within(size: tuple[int, int], max_side: int, expected: tuple[int, int]) -> None:
    w, h = fit_within(*size, max_side)
    assert (w, h) == expected
    assert max(w, h) <= max_side


def test_fit_within_odd_allowed() -> None:
    assert fit_within(321, 241, 640, even=False) == (321, 241)
    assert fit_within(1000, 333, 100, even=False) == (100, 33)


def test_rotated_size() -> None:
    assert rotated_size(1920, 1080, 0) == (1920, 1080)
    assert rotated_size(1920, 1080, 90) == (1080, 1920)
    assert rotated_size(1920, 1080, 180) == (1920, 1080)
    assert rotated_size(1920, 1080, 270) == (1080, 1920)
