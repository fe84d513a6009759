"""The vocabulary of looks of the classic restyle engine, and how a text prompt picks one.

This module is pure Python on purpose: the API process imports it when a restyle task is admitted
(to show the chosen look in the task's options) and must not load OpenCV, NumPy or PyAV for that.
The pixel work of each look lives in :mod:`taxiway.engines.classic.restyle_looks`.

Matching rules (:func:`resolve_look`):

* every look has trigger words and phrases (:data:`VOCABULARY`), the look's own name included;
* matching is case-insensitive and on whole words: "toon" matches "a toon world" but not
  "cartoonist" nor "spittoon"; the words of a phrase may be separated by spaces, hyphens or
  underscores ("cel-shaded", "day for night"), and a plural "s"/"es" is accepted ("sketches");
* when triggers of several looks occur, the one that appears FIRST in the prompt wins ("a noir
  scene at sunset" is noir); at the same position the longer trigger wins;
* when nothing matches, the default look :data:`DEFAULT_LOOK` ("cinematic") is used and the choice
  says so.

The prompt is only ever scanned for these words: the engine cannot follow any other instruction
it contains (it is a classical filter pipeline, not a generative model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

DEFAULT_LOOK = "cinematic"

# Look -> trigger words and phrases (lower case), the look's name first. Shown in the README.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "cinematic": ("cinematic", "film look", "movie look", "teal and orange", "blockbuster", "hollywood"),
    "noir": (
        "noir",
        "film noir",
        "black and white",
        "black & white",
        "black&white",
        "b&w",
        "b/w",
        "monochrome",
        "grayscale",
        "greyscale",
    ),
    "sepia": ("sepia", "vintage", "old film", "antique", "retro", "old photo", "old timey"),
    "cartoon": ("cartoon", "comic", "comic book", "anime", "cel shaded", "cel shading", "toon", "manga"),
    "sketch": ("sketch", "pencil sketch", "pencil drawing", "drawing", "charcoal", "line art", "graphite"),
    "oil painting": ("oil painting", "oil paint", "oil on canvas", "painterly", "impressionist", "impasto"),
    "watercolor": ("watercolor", "watercolour", "aquarelle", "watercolor painting", "water color"),
    "neon": ("neon", "cyberpunk", "synthwave", "vaporwave", "outrun", "glowing edges"),
    "warm": ("warm", "warmer", "golden hour", "sunset", "sunny", "summer"),
    "cool": ("cool", "cooler", "cold", "winter", "icy", "frozen", "blue tone", "blue tones", "teal tone"),
    "night": ("night", "nighttime", "night time", "moonlight", "moonlit", "day for night", "midnight"),
}

LOOK_NAMES: tuple[str, ...] = tuple(VOCABULARY)


@dataclass(frozen=True)
class LookChoice:
    """The look picked for a prompt. ``matched`` is the vocabulary trigger that decided it."""

    name: str
    recognised: bool
    matched: str | None

    def describe(self) -> str:
        """One sentence for users, e.g. "look 'noir' (matched 'black and white')"."""
        if self.recognised:
            return f"look '{self.name}' (matched '{self.matched}')"
        return f"no look recognised in the prompt; using the default look '{DEFAULT_LOOK}'"


def _trigger_pattern(trigger: str) -> str:
    words = [re.escape(word) for word in trigger.split()]
    # Word edges are "not a letter or digit" rather than \b, so triggers such as "b&w" and "b/w"
    # (which end in a non-word character) still need a clean edge on both sides.
    return r"(?<![^\W_])" + r"[\s\-_]+".join(words) + r"(?:e?s)?(?![^\W_])"


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str, str], ...]:
    return tuple(
        (re.compile(_trigger_pattern(trigger), re.IGNORECASE), look, trigger)
        for look, triggers in VOCABULARY.items()
        for trigger in triggers
    )


def resolve_look(prompt: str) -> LookChoice:
    """The look a prompt asks for: the earliest trigger in the prompt wins (see the module doc)."""
    best: tuple[int, int, str, str] | None = None  # (start, -length, look, trigger)
    for pattern, look, trigger in _patterns():
        found = pattern.search(prompt or "")
        if found is None:
            continue
        key = (found.start(), -(found.end() - found.start()), look, trigger)
        if best is None or key[:2] < best[:2]:
            best = key
    if best is None:
        return LookChoice(DEFAULT_LOOK, recognised=False, matched=None)
    return LookChoice(best[2], recognised=True, matched=best[3])
