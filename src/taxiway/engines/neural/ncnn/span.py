"""SPAN (Swift Parameter-free Attention Network) from its ncnn graph.

    input ─ (x − mean)·255 ─ conv_1 ─ SPAB × 6 ─ conv_2 ─┐
    concat(conv_1, conv_2, block_1, block_6's first activation) ─ conv_cat (1×1) ─ conv ─ PixelShuffle

    SPAB(x): c1 ─ SiLU ─ c2 ─ SiLU ─ c3;  out = (c3 + x) · (sigmoid(c3) − 0.5)

Every 3×3 convolution but the upsampler's is a Conv3XC: in training three convolutions and a 1×1
shortcut, in the ncnn file only their fused 3×3 kernel. spandrel rebuilds that kernel from the
branches at every eval-mode call (``update_params``), so the branches are written to give it back
exactly: 1×1 identities (the doubled channels zero) around the fused kernel, a zero shortcut. The
result is about five times the size of the ncnn file; each fused weight is still one product by 1.

Input: spandrel's SPAN takes 0..1 RGB and subtracts its fixed mean (0.4488, 0.4371, 0.4040) then
multiplies by 255, or, with a ``no_norm`` entry, does neither. A file that normalises any other way
(4xSPANkendata: ImageNet's mean and no ×255) cannot be expressed and is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taxiway.engines.neural.ncnn.graph import MUL, SUB, Graph, Mismatch
from taxiway.engines.neural.ncnn.param import Layer
from taxiway.engines.neural.ncnn.result import Converted, Refused

if TYPE_CHECKING:
    import numpy as np

SPANDREL_MEAN = (0.4488, 0.4371, 0.4040)
IMG_RANGE = 255.0
BLOCKS = 6
GAIN = 2  # Conv3XC's gain1 in every SPAN layer


def _silu_input(graph: Graph, blob: str, what: str) -> str:
    """The blob that ``blob`` is SiLU of (a Swish layer, or x · sigmoid(x))."""
    layer = graph.made(blob)
    if layer.type == "Swish":
        return layer.inputs[0]
    if layer.type == "BinaryOp" and layer.integer(0, 0) == MUL and len(layer.inputs) == 2:
        a, b = layer.inputs
        for x, s in ((a, b), (b, a)):
            gate = graph.made(s)
            if gate.type == "Sigmoid" and graph.origin(gate.inputs[0]) == graph.origin(x):
                return x
    raise Mismatch(f"expected {what}: a SiLU (Swish)", layer)


def _block(graph: Graph, blob: str, index: int) -> tuple[list[Layer], str, str]:
    """SPAB ``index``'s three convolutions, its input blob and its first SiLU's output blob."""
    what = f"block_{index}"
    mul = graph.binary(blob, MUL, f"{what}'s attention product")

    def is_sum(candidate: str) -> None:
        graph.sum_of_two(candidate, f"{what}'s c3 + x")

    summed, attention = graph.either(mul, is_sum, f"{what}'s attention product")
    centred = graph.binary(attention, SUB, f"{what}'s sigmoid(c3) − 0.5", scalar=0.5)
    sigmoid = graph.expect(centred.inputs[0], "Sigmoid", f"{what}'s sigmoid")
    _, (a, b) = graph.sum_of_two(summed, f"{what}'s c3 + x")
    c3_out = graph.origin(sigmoid.inputs[0])
    if graph.origin(a) == c3_out:
        block_in = b
    elif graph.origin(b) == c3_out:
        block_in = a
    else:
        raise Mismatch(f"{what}'s residual should add c3's output to the block's input", graph.made(summed))
    c3 = graph.conv(c3_out, f"{what}.c3_r")
    act2 = graph.origin(c3.inputs[0])
    c2 = graph.conv(_silu_input(graph, act2, f"{what}'s second SiLU"), f"{what}.c2_r")
    act1 = graph.origin(c2.inputs[0])
    c1 = graph.conv(_silu_input(graph, act1, f"{what}'s first SiLU"), f"{what}.c1_r")
    if graph.origin(c1.inputs[0]) != graph.origin(block_in):
        raise Mismatch(f"{what}.c1_r should read the block's input", c1)
    return [c1, c2, c3], block_in, act1


def _normalisation(graph: Graph, blob: str) -> bool:
    """Whether conv_1's input is spandrel's (x − mean)·255 of the input (True) or the input itself
    (False); any other normalisation is refused."""
    if graph.is_input(blob):
        return False
    layer = graph.made(blob)
    factor = 1.0
    if layer.type == "BinaryOp" and layer.integer(0, 0) == MUL and layer.integer(1, 0):
        factor = layer.number(2, 1.0)
        blob = layer.inputs[0]
    try:
        sub = graph.binary(blob, SUB, "the input minus the mean")
        if not graph.is_input(sub.inputs[0]):
            raise Mismatch("the mean should be subtracted from the input", sub)
        mean_layer = graph.expect(sub.inputs[1], "MemoryData", "the mean")
    except Mismatch as exc:
        raise Mismatch(
            f"conv_1 should read the input, normalised as (x − mean)·255: {exc.what}", layer
        ) from None
    mean = tuple(round(float(v), 4) for v in graph.weight(mean_layer, "data"))
    if mean != SPANDREL_MEAN or factor != IMG_RANGE:
        scaled = f"·{factor:g}" if factor != 1 else " (no ×255)"
        raise Refused(
            f"it normalises its input as (x − {mean}){scaled} ({mean_layer.where}), and spandrel's SPAN "
            f"computes (x − {SPANDREL_MEAN})·255 (4xSPANkendata is such a file)"
        )
    return True


def _conv3xc(state: dict[str, np.ndarray], name: str, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Conv3XC ``name``'s branches, so that spandrel's eval-mode fusion gives back ``kernel``."""
    import numpy as np

    c_out, c_in = kernel.shape[:2]
    state[f"{name}.sk.weight"] = np.zeros((c_out, c_in, 1, 1), np.float32)
    state[f"{name}.sk.bias"] = np.zeros(c_out, np.float32)
    state[f"{name}.conv.0.weight"] = np.eye(GAIN * c_in, c_in, dtype=np.float32)[:, :, None, None].copy()
    state[f"{name}.conv.0.bias"] = np.zeros(GAIN * c_in, np.float32)
    middle = np.zeros((GAIN * c_out, GAIN * c_in, 3, 3), np.float32)
    middle[:c_out, :c_in] = kernel
    state[f"{name}.conv.1.weight"] = middle
    state[f"{name}.conv.1.bias"] = np.concatenate([bias, np.zeros((GAIN - 1) * c_out, np.float32)])
    state[f"{name}.conv.2.weight"] = np.eye(c_out, GAIN * c_out, dtype=np.float32)[:, :, None, None].copy()
    state[f"{name}.conv.2.bias"] = np.zeros(c_out, np.float32)
    state[f"{name}.eval_conv.weight"] = kernel
    state[f"{name}.eval_conv.bias"] = bias


def convert_span(graph: Graph) -> Converted:
    import numpy as np

    shuffle = graph.expect(graph.output_blob, "PixelShuffle", "the final PixelShuffle")
    scale = shuffle.integer(0, 1)
    upsampler = graph.conv(shuffle.inputs[0], "upsampler.0", out=3 * scale * scale)
    cat = graph.conv(upsampler.inputs[0], "conv_cat", kernel=1)
    concat = graph.expect(cat.inputs[0], "Concat", "the concatenation conv_cat reads")
    if len(concat.inputs) != 4 or concat.integer(0, 0) != 0:
        raise Mismatch("conv_cat should read four blobs concatenated along the channels", concat)
    features_blob, conv2_blob, block1_blob, block6_act = (graph.origin(b) for b in concat.inputs)
    conv_2 = graph.conv(conv2_blob, "conv_2")
    blocks: list[list[Layer]] = []
    blob = conv_2.inputs[0]
    first_activation = ""
    for index in range(BLOCKS, 0, -1):
        convs, blob, act1 = _block(graph, blob, index)
        blocks.insert(0, convs)
        if index == BLOCKS:
            first_activation = act1
        if index == 2 and graph.origin(blob) != block1_blob:
            raise Mismatch("conv_cat's third input should be block_1's output", concat)
    if graph.origin(blob) != features_blob:
        raise Mismatch("block_1 should read conv_1's output, conv_cat's first input", blocks[0][0])
    if graph.origin(first_activation) != block6_act:
        raise Mismatch("conv_cat's fourth input should be block_6's first activation", concat)
    conv_1 = graph.conv(features_blob, "conv_1")
    norm = _normalisation(graph, conv_1.inputs[0])

    state: dict[str, np.ndarray] = {}
    for name, layer in [("conv_1", conv_1), ("conv_2", conv_2)] + [
        (f"block_{b}.c{c}_r", conv) for b, convs in enumerate(blocks, 1) for c, conv in enumerate(convs, 1)
    ]:
        _conv3xc(state, name, graph.weight(layer, "weight"), graph.weight(layer, "bias"))
    for name, layer in (("conv_cat", cat), ("upsampler.0", upsampler)):
        state[f"{name}.weight"] = graph.weight(layer, "weight")
        state[f"{name}.bias"] = graph.weight(layer, "bias")
    if not norm:
        state["no_norm"] = np.zeros(1, np.float32)
    features = graph.weight(conv_1, "weight").shape[0]
    return Converted(
        architecture="SPAN",
        scale=scale,
        state=state,
        summary=f"SPAN x{scale}, {features} channels" + ("" if norm else ", no input normalisation"),
    )
