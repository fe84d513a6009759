"""RRDBNet (Real-ESRGAN x4plus, x4plus-anime 6B, x2plus; ESRGAN) from its ncnn graph.

    input ─ [Reorg: pixel-unshuffle, x2plus/x1] ─ conv_first ─┬─ RRDB × num_blocks ─ conv_body ─ add
                                                               └────────────────────────────────┘
    add ─ (Interp nearest ×2 ─ conv_upN ─ LReLU) × log2(s) ─ conv_hr ─ LReLU ─ conv_last ─ output

Each RRDB is three dense blocks and ``0.2 · rdb3 + x``; each dense block five convolutions, the
k-th reading the concatenation of the block's input and the k-1 outputs before it (LeakyReLU 0.2
after the first four), and ``0.2 · conv5 + x``. ncnn writes ``a·0.2 + b`` as an Eltwise sum with
coefficients. spandrel reads the new-arch names (``body.B.rdbR.convC``) and derives num_filters,
num_blocks, the scale and the pixel-unshuffle factor from the shapes; its growth channels are 32.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taxiway.engines.neural.ncnn.graph import MUL, Graph, Mismatch
from taxiway.engines.neural.ncnn.param import Layer
from taxiway.engines.neural.ncnn.result import Converted, Refused

if TYPE_CHECKING:
    import numpy as np

SLOPE = 0.2
RESIDUAL = 0.2
GROWTH = 32  # spandrel's RRDB is built with gc=32


def _scaled_residual(graph: Graph, blob: str, what: str) -> tuple[str, str]:
    """``blob`` = 0.2 · branch + skip: (branch, skip)."""
    layer = graph.made(blob)
    if layer.type == "Eltwise" and len(layer.inputs) == 2 and layer.integer(0, 1) == 1:
        coeffs = [float(c) for c in layer.array(1)]
        for branch, skip, pair in ((0, 1, [RESIDUAL, 1.0]), (1, 0, [1.0, RESIDUAL])):
            if len(coeffs) == 2 and all(abs(c - p) < 1e-6 for c, p in zip(coeffs, pair, strict=True)):
                return layer.inputs[branch], layer.inputs[skip]
    if layer.type == "BinaryOp" and layer.integer(0, 0) == 0 and len(layer.inputs) == 2:

        def scaled(candidate: str) -> None:
            graph.binary(candidate, MUL, "0.2 × the branch", scalar=RESIDUAL)

        scaled_branch, skip = graph.either(layer, scaled, what)
        return graph.made(scaled_branch).inputs[0], skip
    raise Mismatch(f"expected {what}: 0.2 × branch + input (an Eltwise sum with 0.2, 1)", layer)


def _dense_block(graph: Graph, blob: str) -> tuple[list[Layer], str]:
    """The five convolutions of the dense block that made ``blob``, and the block's input."""
    conv5_out, block_in = _scaled_residual(graph, blob, "a dense block's residual")
    conv5 = graph.conv(conv5_out, "a dense block's conv5")
    concat = graph.expect(conv5.inputs[0], "Concat", "the concatenation conv5 reads")
    if len(concat.inputs) != 5:
        raise Mismatch(f"conv5 should read 5 blobs concatenated, it reads {len(concat.inputs)}", concat)
    activated = list(concat.inputs[1:])  # conv1…conv4 after their LeakyReLU
    convs = [graph.conv(x, f"a dense block's conv{j}", leaky=SLOPE) for j, x in enumerate(activated, 1)]
    expected = [graph.origin(block_in)] + [graph.origin(x) for x in activated]
    for k, conv in enumerate([*convs, conv5], start=1):
        reads = graph.made(conv.inputs[0])
        seen = (
            [graph.origin(b) for b in reads.inputs]
            if reads.type == "Concat"
            else [graph.origin(conv.inputs[0])]
        )
        if reads.type == "Concat" and reads.integer(0, 0) != 0:
            raise Mismatch(f"conv{k}'s inputs should be concatenated along the channels (0=0)", reads)
        if seen != expected[:k]:
            raise Mismatch(f"conv{k} should read the dense block's input and conv1…conv{k - 1}", conv)
    return [*convs, conv5], block_in


def _upsampling(graph: Graph, blob: str) -> tuple[list[tuple[Layer, Layer]], str]:
    """The (Interp, conv_upN) steps that end in ``blob``, first step first, and the blob they start from."""
    steps: list[tuple[Layer, Layer]] = []
    while True:
        try:
            conv = graph.conv(blob, "an upsampling convolution", leaky=SLOPE)
            interp, factor = graph.interp_nearest(conv.inputs[0], "the resize before it")
        except Mismatch:
            break
        if factor != 2:
            raise Refused(
                f"it upsamples ×{factor:g} in one step ({interp.where}); spandrel's ESRGAN does ×2 a step"
            )
        steps.append((interp, conv))
        blob = interp.inputs[0]
    steps.reverse()
    return steps, blob


def _unshuffle_weight(weight: np.ndarray, factor: int, mode: int) -> np.ndarray:
    """conv_first's weight with its inputs in pixel_unshuffle's order (channel c·f² + offset).

    ncnn's Reorg mode 0 is that order; mode 1 puts the offset first (offset·C + c).
    """
    if mode == 0:
        return weight
    out, inputs, kh, kw = weight.shape
    channels = inputs // (factor * factor)
    return (
        weight.reshape(out, factor * factor, channels, kh, kw).transpose(0, 2, 1, 3, 4).reshape(weight.shape)
    )


def convert_rrdb(graph: Graph) -> Converted:
    last = graph.conv(graph.output_blob, "conv_last (the output convolution)")
    hr = graph.conv(last.inputs[0], "conv_hr", leaky=SLOPE)
    ups, trunk_out = _upsampling(graph, hr.inputs[0])
    add, _ = graph.sum_of_two(trunk_out, "the trunk's residual add (features + conv_body)")
    reorg: Layer | None = None

    def reads_the_input(blob: str) -> None:
        nonlocal reorg
        reorg = None  # from a failed try on the other input
        source = graph.conv(blob, "conv_first").inputs[0]
        if graph.is_input(source):
            return
        reorg = graph.expect(source, "Reorg", "the input or its pixel-unshuffle")
        if not graph.is_input(reorg.inputs[0]):
            raise Mismatch("the pixel-unshuffle should read the input", reorg)

    feat_blob, body_blob = graph.either(add, reads_the_input, "the trunk's residual add")
    first = graph.conv(feat_blob, "conv_first")
    body = graph.conv(body_blob, "conv_body")
    blocks: list[list[list[Layer]]] = []
    blob = body.inputs[0]
    while graph.origin(blob) != graph.origin(feat_blob):
        rdb3_out, block_in = _scaled_residual(graph, blob, "an RRDB's residual")
        dense: list[list[Layer]] = []
        z = rdb3_out
        for _ in range(3):
            convs, z = _dense_block(graph, z)
            dense.insert(0, convs)
        if graph.origin(z) != graph.origin(block_in):
            raise Mismatch("an RRDB's three dense blocks should start from the RRDB's input", dense[0][0])
        blocks.insert(0, dense)
        blob = block_in
    if not blocks:
        raise Mismatch("no RRDB blocks between conv_first and conv_body", body)

    filters = graph.weight(first, "weight").shape[0]
    growth = graph.weight(blocks[0][0][0], "weight").shape[0]
    if growth != GROWTH:
        raise Refused(f"its dense blocks grow by {growth} channels; spandrel's ESRGAN is built with {GROWTH}")
    factor = reorg.integer(0, 1) if reorg is not None else 1
    in_channels = graph.weight(first, "weight").shape[1]
    out_channels = graph.weight(last, "weight").shape[0]
    if out_channels != 3 or in_channels != 3 * factor * factor or factor not in (1, 2, 4):
        raise Refused(
            f"it maps {in_channels} input channels (pixel-unshuffle ×{factor}) to {out_channels}; "
            "spandrel loads RGB models, unshuffled ×2 or ×4 at most"
        )
    network_scale = 2 ** len(ups)
    if network_scale % factor:
        raise Refused(f"a ×{factor} pixel-unshuffle before a ×{network_scale} network is not a whole scale")
    scale = network_scale // factor

    state: dict[str, np.ndarray] = {}

    def put(name: str, layer: Layer, weight: np.ndarray | None = None) -> None:
        state[f"{name}.weight"] = graph.weight(layer, "weight") if weight is None else weight
        state[f"{name}.bias"] = graph.weight(layer, "bias")

    mode = reorg.integer(1, 0) if reorg is not None else 0
    put("conv_first", first, _unshuffle_weight(graph.weight(first, "weight"), factor, mode))
    for b, dense in enumerate(blocks):
        for r, convs in enumerate(dense, start=1):
            for c, conv in enumerate(convs, start=1):
                put(f"body.{b}.rdb{r}.conv{c}", conv)
    put("conv_body", body)
    for n, (_, conv) in enumerate(ups, start=1):
        put(f"conv_up{n}", conv)
    put("conv_hr", hr)
    put("conv_last", last)
    unshuffle = f", pixel-unshuffle ×{factor}" if factor > 1 else ""
    return Converted(
        architecture="ESRGAN",
        scale=scale,
        state=state,
        summary=f"RRDBNet x{scale}, {filters} filters, {len(blocks)} blocks{unshuffle}",
    )
