"""SRVGGNetCompact (realesr-animevideov3, realesr-general-x4v3) from its ncnn graph.

    input ─ conv ─ PReLU ─ (conv ─ PReLU) × num_conv ─ conv ─ PixelShuffle(s) ─┐
      └──────────────────── Interp(nearest, ×s) ──────────────────────────── add ─ output

spandrel names the chain ``body.N`` (a PReLU's slopes are ``body.N.weight``) and reads num_feat,
num_conv and the scale from the shapes. Input and output are 0..1 RGB, as in PyTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taxiway.engines.neural.ncnn.graph import Graph, Mismatch
from taxiway.engines.neural.ncnn.result import Converted, Refused

if TYPE_CHECKING:
    import numpy as np


def convert_compact(graph: Graph) -> Converted:
    end = graph.made(graph.output_blob)
    if end.type == "Interp" and 0 < end.number(1, 1.0) < 1:
        # The x2/x3 animevideov3 files of some packages: the x4 network, then a downscale.
        network = _compact(graph, end.inputs[0])
        raise Refused(
            f"it is an x{round(network.scale * end.number(1, 1.0))} file made of the x{network.scale} "
            f"network followed by a ×{end.number(1, 1.0):g} resize ({end.where}), which spandrel's "
            f"Compact cannot express; import the x{network.scale} file instead (taxiway resizes every "
            "model's output to the 4K-class size anyway)"
        )
    return _compact(graph, graph.output_blob)


def _compact(graph: Graph, output: str) -> Converted:
    import numpy as np

    add, _ = graph.sum_of_two(output, "the final add of the upscaled input")

    def shuffled(blob: str) -> None:
        graph.expect(blob, "PixelShuffle", "the network's upscaled output")

    network, base = graph.either(add, shuffled, "the final add")
    interp, factor = graph.interp_nearest(base, "the nearest-neighbour upscaled input")
    if not graph.is_input(interp.inputs[0]):
        raise Mismatch("the upscaled image added at the end should be the input", interp)
    shuffle = graph.expect(network, "PixelShuffle", "the PixelShuffle")
    scale = shuffle.integer(0, 1)
    if factor != scale:
        raise Mismatch(f"the input is upscaled ×{factor:g} but the network ×{scale}", interp)
    # Backwards: the last conv, then (PReLU, conv) pairs down to the conv that reads the input.
    chain = [graph.conv(shuffle.inputs[0], "the last convolution", out=3 * scale * scale)]
    while not graph.is_input(chain[-1].inputs[0]):
        prelu = graph.expect(chain[-1].inputs[0], "PReLU", "a PReLU between convolutions")
        chain += [prelu, graph.conv(prelu.inputs[0], "a body convolution")]
    chain.reverse()
    features = chain[0].integer(0, 0)
    state: dict[str, np.ndarray] = {}
    for index, layer in enumerate(chain):
        if layer.type == "PReLU":
            slope = graph.weight(layer, "slope")
            if slope.size not in (1, features):
                raise Mismatch(f"a PReLU over {features} features has {slope.size} slopes", layer)
            state[f"body.{index}.weight"] = np.broadcast_to(slope, (features,)).copy()
            continue
        weight = graph.weight(layer, "weight")
        expected_in = 3 if index == 0 else features
        if weight.shape[1] != expected_in or (index < len(chain) - 1 and weight.shape[0] != features):
            raise Mismatch(
                f"convolution {index // 2} maps {weight.shape[1]}→{weight.shape[0]} channels; "
                f"expected {expected_in}→{features if index < len(chain) - 1 else 3 * scale * scale}",
                layer,
            )
        state[f"body.{index}.weight"] = weight
        state[f"body.{index}.bias"] = graph.weight(layer, "bias")
    num_conv = (len(chain) - 3) // 2
    return Converted(
        architecture="Compact",
        scale=scale,
        state=state,
        summary=f"SRVGGNetCompact x{scale}, {features} features, {num_conv} body convolutions",
    )
