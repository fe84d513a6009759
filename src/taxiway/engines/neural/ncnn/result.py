"""What recognising an ncnn graph gives: a state dict spandrel loads, or a refusal saying why not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Converted:
    """``state``: float32 arrays under the names spandrel detects ``architecture`` (its id) by."""

    architecture: str
    scale: int
    state: dict[str, np.ndarray]
    summary: str  # for people: "SRVGGNetCompact x4, 64 features, 16 body convolutions"


class Refused(Exception):
    """The graph is of a known architecture but computes something spandrel's version cannot."""
