"""The ncnn ``.param`` text: the magic line, the counts, then one layer a line.

    7767517
    40 41
    Input        input.1   0 1 data
    Convolution  Conv_0    1 1 data 54 0=64 1=3 4=1 5=1 6=1728
    Convolution  Conv_1    1 1 54 55 0=32 1=3 9=2 -23310=1,2.000000e-01

A layer line is: type, name, input count, output count, the input blobs, the output blobs, then
``key=value`` parameters. A value is an integer, a float (it has a '.', 'e' or 'E', as ncnn's own
reader decides) or, for a key at or below -23300, an array ``count,v1,v2,…`` whose parameter id is
``-23300 - key`` (``-23310`` is id 10, a convolution's activation parameters). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAGIC = "7767517"
ARRAY_KEY_BASE = -23300

Value = int | float | str | tuple[int | float, ...]


class NcnnImportError(Exception):
    """An ncnn model that cannot be converted: the message says what and where, on one line."""


@dataclass(frozen=True)
class Layer:
    """One layer line of a ``.param``: ``line`` is its 1-based line number in the file."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, Value] = field(default_factory=dict)
    line: int = 0

    @property
    def where(self) -> str:
        return f"line {self.line} (layer {self.name})"

    def integer(self, key: int, default: int) -> int:
        value = self.params.get(key, default)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise NcnnImportError(f"{self.where}: parameter {key} should be an integer, not {value!r}")
        return value

    def number(self, key: int, default: float) -> float:
        value = self.params.get(key, default)
        if not isinstance(value, int | float):
            raise NcnnImportError(f"{self.where}: parameter {key} should be a number, not {value!r}")
        return float(value)

    def array(self, key: int) -> tuple[int | float, ...]:
        """The array parameter with id ``key`` (written ``-23300 - key`` in the file); () when absent."""
        value = self.params.get(ARRAY_KEY_BASE - key, ())
        if not isinstance(value, tuple):
            raise NcnnImportError(f"{self.where}: parameter {ARRAY_KEY_BASE - key} should be an array")
        return value


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_value(key: int, text: str) -> Value:
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise ValueError(f"unterminated string {text!r}")
        return text[1:-1]
    if key > ARRAY_KEY_BASE:
        return _number(text)
    count_text, *items = text.split(",")
    count = int(count_text)
    if count != len(items):
        raise ValueError(f"array says {count} values but has {len(items)}")
    return tuple(_number(item) for item in items)


def _parse_layer(tokens: list[str], line: int, path: Path) -> Layer:
    where = f"{path} line {line}"
    if len(tokens) < 4:
        raise NcnnImportError(f"{where}: a layer needs a type, a name and its input and output counts")
    kind, name, n_in_text, n_out_text, *rest = tokens
    where = f"{path} line {line} (layer {name})"
    try:
        n_in, n_out = int(n_in_text), int(n_out_text)
    except ValueError:
        raise NcnnImportError(
            f"{where}: input/output counts {n_in_text!r} {n_out_text!r} are not numbers"
        ) from None
    if n_in < 0 or n_out < 0 or len(rest) < n_in + n_out:
        raise NcnnImportError(f"{where}: it says {n_in} inputs and {n_out} outputs but names fewer blobs")
    blobs, settings = rest[: n_in + n_out], rest[n_in + n_out :]
    if any("=" in blob for blob in blobs):
        raise NcnnImportError(f"{where}: a parameter stands where a blob name should be")
    params: dict[int, Value] = {}
    for token in settings:
        key_text, sep, value_text = token.partition("=")
        try:
            if not sep:
                raise ValueError("not key=value")
            key = int(key_text)
            params[key] = _parse_value(key, value_text)
        except ValueError as exc:
            raise NcnnImportError(f"{where}: bad parameter {token!r}: {exc}") from None
    return Layer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params, line)


def parse_param(text: str, path: Path) -> list[Layer]:
    """The layers of a ``.param`` file's text, checked for the magic, the counts and blob order.

    Every input blob must be produced by an earlier layer (ncnn runs layers in file order), and no
    blob may be produced twice.
    """
    lines = text.splitlines()
    if not lines or lines[0].strip() != MAGIC:
        first = lines[0].strip()[:40] if lines else ""
        raise NcnnImportError(
            f"{path} line 1: not an ncnn text .param (expected the magic {MAGIC}, found {first!r})"
        )
    counts = lines[1].split() if len(lines) > 1 else []
    if len(counts) != 2 or not all(c.isdigit() for c in counts):
        raise NcnnImportError(
            f"{path} line 2: expected the layer and blob counts, found {' '.join(counts)!r}"
        )
    layer_count, blob_count = int(counts[0]), int(counts[1])
    layers = [
        _parse_layer(tokens, number, path)
        for number, raw in enumerate(lines[2:], start=3)
        if (tokens := raw.split())
    ]
    if len(layers) != layer_count:
        raise NcnnImportError(f"{path} line 2: it says {layer_count} layers but the file has {len(layers)}")
    produced: set[str] = set()
    for layer in layers:
        for blob in layer.inputs:
            if blob not in produced:
                raise NcnnImportError(
                    f"{path} {layer.where}: input blob {blob!r} is not produced by any earlier layer"
                )
        for blob in layer.outputs:
            if blob in produced:
                raise NcnnImportError(f"{path} {layer.where}: blob {blob!r} is produced twice")
            produced.add(blob)
    if len(produced) != blob_count:
        raise NcnnImportError(
            f"{path} line 2: it says {blob_count} blobs but the layers make {len(produced)}"
        )
    return layers
