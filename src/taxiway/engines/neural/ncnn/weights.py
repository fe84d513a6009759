"""The ncnn ``.bin``: every layer's weights, in the ``.param``'s layer order, with no index.

A convolution's weight blob starts with a 4-byte tag saying how it is stored: ``0x01306B47`` is
float16 (padded to a multiple of 4 bytes), ``0`` or ``0x0002C056`` float32; ``0x000D4B38`` would be
int8, which these models do not use and taxiway does not read. Biases, PReLU slopes and
``MemoryData`` are raw float32 with no tag. Nothing says where a layer's weights start, so a reader
must know each layer type's layout: a type it does not know stops the reading, and a correct reading
ends exactly at the file's last byte.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

from taxiway.engines.neural.ncnn.param import Layer, NcnnImportError

if TYPE_CHECKING:
    import numpy as np

TAG_FLOAT16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAGS_FLOAT32 = (0, 0x0002C056)

# Layer types the converted architectures are made of that carry no weights.
WEIGHTLESS = frozenset(
    {"Input", "Split", "Noop", "Swish", "Sigmoid", "ReLU", "PixelShuffle", "Interp", "BinaryOp",
     "Eltwise", "Concat", "Reorg"}
)  # fmt: skip

# By the layer's line in the .param: names need not be unique.
Weights = dict[int, dict[str, "np.ndarray"]]


class _Reader:
    """The ``.bin``'s bytes, read front to back; errors name the layer being read and the offset."""

    def __init__(self, data: bytes, path: Path, param_path: Path) -> None:
        self.data, self.path, self.param_path = data, path, param_path
        self.offset = 0
        self.layer: Layer | None = None

    def fail(self, what: str) -> NcnnImportError:
        assert self.layer is not None
        return NcnnImportError(
            f"{self.path} at byte {self.offset} (layer {self.layer.name}, {self.param_path.name} line "
            f"{self.layer.line}): {what}"
        )

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise self.fail(
                f"the file ends {self.offset + size - len(self.data)} bytes short of {what}: it is "
                "shorter than its .param says (truncated, or the .bin of another model)"
            )
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def raw(self, count: int, what: str) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self.take(4 * count, what), dtype="<f4").astype(np.float32)

    def tagged(self, count: int, what: str) -> np.ndarray:
        import numpy as np

        (tag,) = struct.unpack("<I", self.take(4, f"the tag of {what}"))
        if tag == TAG_FLOAT16:
            padded = (2 * count + 3) // 4 * 4
            data = self.take(padded, what)[: 2 * count]
            return np.frombuffer(data, dtype="<f2").astype(np.float32)
        if tag in TAGS_FLOAT32:
            return self.raw(count, what)
        self.offset -= 4
        if tag == TAG_INT8:
            raise self.fail(f"{what} is int8-quantised, which taxiway does not convert")
        raise self.fail(f"{what} starts with an unknown storage tag 0x{tag:08X} (not float16 or float32)")


def _convolution(layer: Layer, reader: _Reader) -> dict[str, np.ndarray]:
    out_channels = layer.integer(0, 0)
    kernel_w = layer.integer(1, 0)
    kernel_h = layer.integer(11, kernel_w)
    size = layer.integer(6, 0)
    if layer.integer(8, 0):
        raise reader.fail("int8 convolutions are not converted")
    if layer.integer(19, 0):
        raise reader.fail("a convolution with dynamic weights (19=1) is not converted")
    if out_channels <= 0 or kernel_w <= 0 or size % (out_channels * kernel_w * kernel_h):
        raise reader.fail(
            f"weight count {size} does not fit {out_channels} outputs of {kernel_w}×{kernel_h} kernels"
        )
    in_channels = size // (out_channels * kernel_w * kernel_h)
    weight = reader.tagged(size, "its weights").reshape(out_channels, in_channels, kernel_h, kernel_w)
    found = {"weight": weight}
    if layer.integer(5, 0):
        found["bias"] = reader.raw(out_channels, "its bias")
    return found


def _prelu(layer: Layer, reader: _Reader) -> dict[str, np.ndarray]:
    return {"slope": reader.raw(max(1, layer.integer(0, 0)), "its slopes")}


def _memory_data(layer: Layer, reader: _Reader) -> dict[str, np.ndarray]:
    dims = [layer.integer(key, 0) for key in (0, 1, 11, 2)]  # w, h, d, c
    count = 1
    for dim in dims:
        count *= max(dim, 1)
    return {"data": reader.raw(count, "its data")}


_READERS = {"Convolution": _convolution, "PReLU": _prelu, "MemoryData": _memory_data}


def read_weights(layers: list[Layer], path: Path, param_path: Path) -> Weights:
    """Each weighted layer's arrays (float32; float16 widened), by its line: ``weight``/``bias``
    for convolutions, ``slope`` for PReLU, ``data`` for MemoryData. The whole file must be used."""
    for layer in layers:  # before the .bin: how much an unknown layer's weights take is unknowable
        if layer.type not in _READERS and layer.type not in WEIGHTLESS:
            raise NcnnImportError(
                f"{param_path} {layer.where}: unknown layer type {layer.type!r} (taxiway converts "
                "RRDBNet, SRVGGNetCompact and SPAN, which do not use it)"
            )
    if not path.is_file():
        raise NcnnImportError(f"{path}: the weights file beside {param_path.name} is missing")
    reader = _Reader(path.read_bytes(), path, param_path)
    weights: Weights = {}
    for layer in layers:
        reader.layer = layer
        read = _READERS.get(layer.type)
        if read is not None:
            weights[layer.line] = read(layer, reader)
    if reader.offset != len(reader.data):
        raise NcnnImportError(
            f"{path}: {len(reader.data) - reader.offset} bytes are left after the last layer's weights "
            f"(byte {reader.offset} of {len(reader.data)}): this .bin does not belong to {param_path.name}"
        )
    return weights
