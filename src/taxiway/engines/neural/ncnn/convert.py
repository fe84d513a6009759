"""From an ncnn ``.param``/``.bin`` pair to a ``.safetensors`` spandrel loads, and a check against ncnn.

numpy is imported when weights are read, torch and spandrel only to check the result
(:func:`load_with_spandrel`, :func:`run_torch`) and ncnn only by :func:`run_ncnn`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxiway.engines.neural.ncnn.compact import convert_compact
from taxiway.engines.neural.ncnn.graph import Graph, Mismatch
from taxiway.engines.neural.ncnn.param import NcnnImportError, parse_param
from taxiway.engines.neural.ncnn.result import Converted, Refused
from taxiway.engines.neural.ncnn.rrdb import convert_rrdb
from taxiway.engines.neural.ncnn.span import convert_span
from taxiway.engines.neural.ncnn.weights import read_weights

if TYPE_CHECKING:
    import numpy as np

# spandrel's architecture id -> what people call it, how it is matched, and what its graph has.
_ARCHITECTURES: dict[str, tuple[str, Callable[[Graph], Converted], Callable[[Counter[str]], bool]]] = {
    "Compact": ("SRVGGNetCompact", convert_compact, lambda types: types["PReLU"] > 0),
    "ESRGAN": ("RRDBNet", convert_rrdb, lambda types: types["Eltwise"] > 0 or types["Concat"] > 5),
    "SPAN": ("SPAN", convert_span, lambda types: types["Sigmoid"] > 0 and types["PixelShuffle"] > 0),
}


@dataclass(frozen=True)
class NcnnModel:
    """A parsed ``.param`` with its ``.bin`` read: the graph, and where each came from."""

    param_path: Path
    bin_path: Path
    graph: Graph


def read_model(param_path: Path) -> NcnnModel:
    """Parse ``param_path`` and read the ``.bin`` of the same stem beside it, every byte of it."""
    if not param_path.is_file():
        raise NcnnImportError(f"{param_path}: no such file")
    try:
        text = param_path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NcnnImportError(
            f"{param_path} line 1: not a text .param (a binary .param.bin is not supported)"
        ) from None
    layers = parse_param(text, param_path)
    bin_path = param_path.with_suffix(".bin")
    weights = read_weights(layers, bin_path, param_path)
    return NcnnModel(param_path, bin_path, Graph(layers, weights, param_path))


def convert(model: NcnnModel) -> Converted:
    """Recognise the architecture from the graph and map its weights to spandrel's names.

    Raises NcnnImportError saying why not: another architecture (naming the first layer where the
    graph differs from the closest one) or one spandrel's version cannot express.
    """
    graph = model.graph
    types = Counter(layer.type for layer in graph.layers)
    likely = [arch for arch, (_, _, looks) in _ARCHITECTURES.items() if looks(types)]
    mismatches: dict[str, Mismatch] = {}
    for arch in likely + [a for a in _ARCHITECTURES if a not in likely]:
        name, match, _ = _ARCHITECTURES[arch]
        try:
            return match(graph)
        except Refused as exc:
            raise NcnnImportError(f"{model.param_path}: recognised as {name}, but {exc}") from None
        except Mismatch as exc:
            mismatches[arch] = exc
    if likely:
        name = _ARCHITECTURES[likely[0]][0]
        exc = mismatches[likely[0]]
        where = f" {exc.layer.where}" if exc.layer is not None else ""
        raise NcnnImportError(
            f"{model.param_path}{where}: not a {name} graph as taxiway converts it: {exc.what}"
        )
    found = ", ".join(f"{kind}×{n}" for kind, n in types.most_common())
    raise NcnnImportError(
        f"{model.param_path}: not an architecture taxiway converts (RRDBNet, SRVGGNetCompact, SPAN); "
        f"its layers are {found}"
    )


def load_with_spandrel(converted: Converted) -> Any:
    """spandrel's ImageModelDescriptor for the converted weights (CPU, eval mode), checked to be the
    architecture and scale the graph said."""
    import torch
    from spandrel import ModelLoader

    state = {key: torch.from_numpy(value.copy()) for key, value in converted.state.items()}
    try:
        descriptor = ModelLoader(device=torch.device("cpu")).load_from_state_dict(state)
    except Exception as exc:  # spandrel's detection or load_state_dict: a mapping this module got wrong
        raise NcnnImportError(
            f"spandrel could not load the converted {converted.summary} weights: {type(exc).__name__}: {exc}"
        ) from exc
    if descriptor.architecture.id != converted.architecture or descriptor.scale != converted.scale:
        raise NcnnImportError(
            f"spandrel loads the converted weights as {descriptor.architecture.id} x{descriptor.scale}, "
            f"not {converted.architecture} x{converted.scale}"
        )
    descriptor.eval()
    return descriptor


def save(converted: Converted, target: Path) -> None:
    """Write the state dict to ``target`` (.safetensors) through a temporary file in its folder, so
    that a failure leaves nothing behind and a reader never sees half a file."""
    import numpy as np
    from safetensors.numpy import save

    # Serialised here and written with open(): safetensors' own save_file makes the file 0600,
    # which a server running as another user could not read.
    data = save({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in converted.state.items()})
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{target.name}.{os.getpid()}.part"
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def verification_image(width: int = 64, height: int = 64) -> np.ndarray:
    """A deterministic H×W×3 float32 image in 0..1: gradients, stripes and seeded noise."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = x / max(width - 1, 1)
    g = 0.5 + 0.5 * np.sin(x * 0.7) * np.cos(y * 0.3)
    b = ((x // 8 + y // 8) % 2).astype(np.float32) * 0.8 + 0.1
    noise = np.random.default_rng(0).random((height, width, 3), dtype=np.float32) * 0.2
    return np.clip(np.stack([r, g, b], axis=-1) * 0.8 + noise, 0, 1).astype(np.float32)


def run_ncnn(model: NcnnModel, image: np.ndarray, threads: int = 0) -> np.ndarray:
    """The ncnn model's output for ``image`` (H×W×3, 0..1 RGB, as realesrgan-ncnn-vulkan feeds it),
    as H'×W'×3 float32, computed on the CPU in float32 (ncnn's fp16 storage and arithmetic off)."""
    import ncnn
    import numpy as np

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = threads or os.cpu_count() or 1
    if net.load_param(str(model.param_path)) != 0 or net.load_model(str(model.bin_path)) != 0:
        raise NcnnImportError(f"{model.param_path}: the ncnn package could not load this model")
    extractor = net.create_extractor()
    # ncnn.Mat borrows the array's memory: the array must outlive the extraction.
    planar = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    extractor.input(model.graph.input_blob, ncnn.Mat(planar))
    status, out = extractor.extract(model.graph.output_blob)
    if status != 0:
        raise NcnnImportError(f"{model.param_path}: ncnn failed to run the model (status {status})")
    result = np.array(out).transpose(1, 2, 0).copy()
    # The output and the extractor hold memory from the net's pools: free them before the net.
    del out, extractor, planar
    net.clear()
    return result


def run_torch(descriptor: Any, image: np.ndarray) -> np.ndarray:
    """spandrel's output for ``image`` (H×W×3, 0..1 RGB) as H'×W'×3 float32, unclamped."""
    import numpy as np
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
        # The network itself: the descriptor's call would clamp to 0..1, hiding differences.
        return descriptor.model(x)[0].permute(1, 2, 0).float().numpy().copy()


def largest_difference(model: NcnnModel, descriptor: Any, image: np.ndarray, threads: int = 0) -> float:
    """The largest absolute difference between ncnn's and the converted model's output on ``image``
    (ncnn on ``threads`` threads, 0: one per CPU)."""
    import numpy as np

    reference, converted = run_ncnn(model, image, threads), run_torch(descriptor, image)
    if reference.shape != converted.shape:
        raise NcnnImportError(f"ncnn gives a {reference.shape} output, the converted model {converted.shape}")
    return float(np.abs(reference - converted).max())
