"""An ncnn layer graph to recognise architectures in: walked backwards from the output, Splits seen through.

ncnn fans a blob out to several consumers with ``Split`` layers; here every blob a Split makes
stands for the blob it copies, so a matcher asks "which layer made this value" and gets the real
one. A matcher that meets something its architecture does not have raises :class:`Mismatch`
naming the layer; the caller turns that into the user's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from taxiway.engines.neural.ncnn.param import Layer, NcnnImportError
from taxiway.engines.neural.ncnn.weights import Weights

if TYPE_CHECKING:
    import numpy as np

# ncnn's codes (BinaryOp 0=, Eltwise 0=, Interp 0=, Convolution 9=).
ADD, SUB, MUL = 0, 1, 2
ELTWISE_SUM = 1
NEAREST = 1
ACT_NONE, ACT_LEAKY = 0, 2


class Mismatch(Exception):
    """The graph is not the architecture being matched: ``layer`` is where it differs."""

    def __init__(self, what: str, layer: Layer | None = None) -> None:
        super().__init__(what)
        self.what, self.layer = what, layer


@dataclass
class Graph:
    """The layers of one ``.param`` with the weights read for them."""

    layers: list[Layer]
    weights: Weights
    path: Path

    def __post_init__(self) -> None:
        self.maker: dict[str, Layer] = {blob: layer for layer in self.layers for blob in layer.outputs}
        used = {blob for layer in self.layers for blob in layer.inputs}
        inputs = [layer for layer in self.layers if layer.type == "Input"]
        if len(inputs) != 1 or len(inputs[0].outputs) != 1:
            raise NcnnImportError(f"{self.path}: expected one Input layer with one blob, found {len(inputs)}")
        self.input_blob = inputs[0].outputs[0]
        ends = [blob for layer in self.layers for blob in layer.outputs if blob not in used]
        if len(ends) != 1:
            raise NcnnImportError(
                f"{self.path}: expected one output blob (made and never used), found {len(ends)}: "
                f"{', '.join(ends[:5])}"
            )
        self.output_blob = ends[0]

    def origin(self, blob: str) -> str:
        """The blob ``blob`` is a copy of (through Splits and Noops), or ``blob`` itself."""
        layer = self.maker[blob]
        while layer.type in ("Split", "Noop"):
            blob = layer.inputs[0]
            layer = self.maker[blob]
        return blob

    def made(self, blob: str) -> Layer:
        """The layer that computed ``blob``'s value (not a Split that copied it)."""
        return self.maker[self.origin(blob)]

    def is_input(self, blob: str) -> bool:
        return self.origin(blob) == self.input_blob

    def weight(self, layer: Layer, kind: str) -> np.ndarray:
        return self.weights[layer.line][kind]

    # -- matching helpers ------------------------------------------------------------------------

    def expect(self, blob: str, kind: str, what: str) -> Layer:
        """The layer that made ``blob``, which must be of type ``kind``."""
        layer = self.made(blob)
        if layer.type != kind:
            raise Mismatch(f"expected {what} (a {kind} layer), found a {layer.type}", layer)
        return layer

    def conv(
        self,
        blob: str,
        what: str,
        *,
        kernel: int = 3,
        leaky: float | None = None,
        out: int | None = None,
        bias: bool = True,
    ) -> Layer:
        """The Convolution that made ``blob``: stride 1, dilation 1, 'same' padding, no groups.

        ``leaky``: its output goes through LeakyReLU with that slope, fused (9=2) or as a ReLU layer
        (ncnn's ReLU with 0=slope); None: no activation at all.
        """
        layer = self.made(blob)
        if leaky is not None and layer.type == "ReLU":
            slope = layer.number(0, 0.0)
            if abs(slope - leaky) > 1e-6:
                raise Mismatch(f"expected a LeakyReLU of slope {leaky} after {what}, found {slope}", layer)
            layer = self.conv(layer.inputs[0], what, kernel=kernel, out=out, bias=bias)
            return layer
        if layer.type != "Convolution":
            raise Mismatch(f"expected {what} (a Convolution), found a {layer.type}", layer)
        activation = layer.integer(9, ACT_NONE)
        if leaky is None and activation != ACT_NONE:
            raise Mismatch(f"{what} should have no activation, it has activation type {activation}", layer)
        if leaky is not None:
            slope = layer.array(10)[0] if layer.array(10) else 0.0
            if activation != ACT_LEAKY or abs(float(slope) - leaky) > 1e-6:
                raise Mismatch(f"{what} should end in LeakyReLU({leaky}) (9=2, -23310=1,{leaky})", layer)
        kernel_w = layer.integer(1, 0)
        geometry = {
            "kernel": (kernel_w, layer.integer(11, kernel_w)),
            "dilation": (layer.integer(2, 1), layer.integer(12, layer.integer(2, 1))),
            "stride": (layer.integer(3, 1), layer.integer(13, layer.integer(3, 1))),
        }
        pad = layer.integer(4, 0)
        pads = (
            pad,
            layer.integer(14, pad),
            layer.integer(15, pad),
            layer.integer(16, layer.integer(14, pad)),
        )
        same = kernel // 2
        if (
            geometry != {"kernel": (kernel, kernel), "dilation": (1, 1), "stride": (1, 1)}
            or pads not in ((same,) * 4, (-233,) * 4, (-234,) * 4)  # -233/-234: ncnn's SAME padding
            or layer.number(18, 0.0) != 0.0
        ):
            raise Mismatch(
                f"{what} should be a {kernel}×{kernel} convolution, stride 1, padded by {same}: "
                f"found {geometry}, padding {pads}",
                layer,
            )
        if out is not None and layer.integer(0, 0) != out:
            raise Mismatch(f"{what} should have {out} output channels, it has {layer.integer(0, 0)}", layer)
        if bias and not layer.integer(5, 0):
            raise Mismatch(f"{what} should have a bias", layer)
        return layer

    def either(self, layer: Layer, first: Callable[[str], object], what: str) -> tuple[str, str]:
        """``layer``'s two inputs as (the one ``first`` accepts, the other), in whichever order."""
        if len(layer.inputs) != 2:
            raise Mismatch(f"expected {what} with two inputs, found {len(layer.inputs)}", layer)
        a, b = layer.inputs
        try:
            first(a)
            return a, b
        except Mismatch:
            first(b)
            return b, a

    def binary(self, blob: str, op: int, what: str, scalar: float | None = None) -> Layer:
        """The BinaryOp ``op`` that made ``blob``; with ``scalar``, of one input and that constant."""
        layer = self.expect(blob, "BinaryOp", what)
        if layer.integer(0, ADD) != op:
            raise Mismatch(f"expected {what} (BinaryOp 0={op}), found 0={layer.integer(0, ADD)}", layer)
        with_scalar = bool(layer.integer(1, 0))
        if scalar is None and (with_scalar or len(layer.inputs) != 2):
            raise Mismatch(f"expected {what} of two blobs", layer)
        if scalar is not None and not (
            with_scalar and abs(layer.number(2, 0.0) - scalar) <= 1e-6 * max(1, scalar)
        ):
            raise Mismatch(f"expected {what} with the constant {scalar}", layer)
        return layer

    def sum_of_two(self, blob: str, what: str) -> tuple[Layer, tuple[str, str]]:
        """``blob`` = a + b, as BinaryOp add or an Eltwise sum with unit (or no) coefficients."""
        layer = self.made(blob)
        if layer.type == "Eltwise":
            coeffs = layer.array(1)
            if layer.integer(0, ELTWISE_SUM) != ELTWISE_SUM or any(abs(float(c) - 1) > 1e-6 for c in coeffs):
                raise Mismatch(f"expected {what}: an Eltwise sum with unit coefficients", layer)
        else:
            self.binary(blob, ADD, what)
        if len(layer.inputs) != 2:
            raise Mismatch(f"expected {what} of two blobs", layer)
        return layer, (layer.inputs[0], layer.inputs[1])

    def interp_nearest(self, blob: str, what: str) -> tuple[Layer, float]:
        """The nearest-neighbour Interp that made ``blob`` and its (equal) scale factor."""
        layer = self.expect(blob, "Interp", what)
        scale_h, scale_w = layer.number(1, 1.0), layer.number(2, 1.0)
        if layer.integer(0, 0) != NEAREST or scale_h != scale_w or layer.integer(3, 0) or layer.integer(4, 0):
            raise Mismatch(f"expected {what}: a nearest-neighbour resize by one factor", layer)
        return layer, scale_h
