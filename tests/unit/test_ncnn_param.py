"""The ncnn .param reader on its own (pure Python, no model packages): values, arrays, and the
mistakes a damaged or hand-edited file has, each named by its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxiway.engines.neural.ncnn.param import NcnnImportError, parse_param

PATH = Path("m.param")
GOOD = """7767517
3 3
Input            in     0 1 data
Convolution      conv   1 1 data c 0=32 1=3 4=1 5=1 6=864 9=2 -23310=1,2.000000e-01
Eltwise          sum    1 1 c out 0=1 -23301=2,2.0e-01,1 7="text"
"""


def test_layers_with_numbers_floats_arrays_and_strings() -> None:
    data, conv, eltwise = parse_param(GOOD, PATH)
    assert (data.type, data.name, data.inputs, data.outputs) == ("Input", "in", (), ("data",))
    assert (conv.inputs, conv.outputs, conv.line) == (("data",), ("c",), 4)
    assert conv.integer(0, 0) == 32 and conv.integer(11, conv.integer(1, 0)) == 3  # 11 defaults to 1
    assert conv.array(10) == (0.2,)  # -23310: array parameter 10, the activation's
    assert eltwise.array(1) == (0.2, 1)
    assert eltwise.params[7] == "text"
    assert isinstance(conv.params[6], int) and isinstance(conv.array(10)[0], float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7767518\n0 0\n", "m.param line 1: not an ncnn text .param (expected the magic 7767517"),
        ("7767517\nthree 3\n", "m.param line 2: expected the layer and blob counts"),
        (GOOD.replace("3 3", "4 3", 1), "m.param line 2: it says 4 layers but the file has 3"),
        (GOOD.replace("3 3", "3 5", 1), "m.param line 2: it says 5 blobs but the layers make 3"),
        (GOOD.replace("1 1 data c", "1 1 dat c"), "line 4 (layer conv): input blob 'dat' is not produced"),
        (GOOD.replace("1 1 c out", "1 1 c data"), "line 5 (layer sum): blob 'data' is produced twice"),
        (
            GOOD.replace("-23310=1,", "-23310=2,"),
            "line 4 (layer conv): bad parameter '-23310=2,2.000000e-01'",
        ),
        (GOOD.replace("5=1", "5=x"), "line 4 (layer conv): bad parameter '5=x'"),
        (GOOD.replace("1 1 data c", "1 3 data c"), "line 4 (layer conv): a parameter stands where a blob"),
        (
            GOOD.replace("Input            in     0 1 data", "Input in"),
            "line 3: a layer needs a type, a name",
        ),
    ],
    ids=[
        "magic",
        "counts",
        "layer-count",
        "blob-count",
        "unknown-blob",
        "twice",
        "array",
        "value",
        "arity",
        "short",
    ],
)
def test_a_damaged_param_names_the_line_and_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NcnnImportError) as caught:
        parse_param(text, PATH)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
