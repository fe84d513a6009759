"""Declarative request fields: one place for the contract's types, ranges and defaults.

Bodies arrive as JSON or multipart/form-data (where every value is a string), so values are
coerced by the field's type, never by guessing. Each violation becomes one precise sentence:
which field, what was wrong, what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from taxiway.core.errors import BadRequest

FieldType = Literal["string", "integer", "number", "boolean"]

_MISSING = object()


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    description: str
    required: bool = False
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    max_length: int | None = None
    allow_empty: bool = True

    def allowed(self) -> str:
        if self.choices is not None:
            return "supported values: " + ", ".join(str(choice) for choice in self.choices)
        if self.minimum is not None and self.maximum is not None:
            return f"valid range: {_number(self.minimum)}…{_number(self.maximum)}"
        if self.max_length is not None:
            return f"at most {self.max_length} characters"
        return _article(self.type)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.default is not None:
            schema["default"] = self.default
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


def _article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = _number(value)
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Invalid(Exception):
    pass


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Convert one raw value to the field's type, or raise _Invalid with the reason."""
    if spec.type == "string":
        if not isinstance(value, str):
            raise _Invalid(f"must be a string, got {_shown(value)}")
        return value
    if spec.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
            return value.strip().lower() in ("true", "1")
        raise _Invalid(f"must be true or false, got {_shown(value)}")
    # Numbers: bools are not numbers here, although Python thinks they are.
    if isinstance(value, bool):
        raise _Invalid(f"must be {_article(spec.type)}, got {_shown(value)}")
    number: float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise _Invalid(f"must be {_article(spec.type)}, got {_shown(value)}") from None
    else:
        raise _Invalid(f"must be {_article(spec.type)}, got {_shown(value)}")
    if not math.isfinite(number):
        raise _Invalid(f"must be a finite {spec.type}, got {_shown(value)}")
    if spec.type == "integer":
        if not float(number).is_integer():
            raise _Invalid(f"must be an integer, got {_shown(value)}")
        return int(number)
    return float(number)


def _check(spec: FieldSpec, value: Any) -> None:
    if spec.choices is not None and value not in spec.choices:
        raise _Invalid(f"{_shown(value)} is not supported")
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise _Invalid(f"{_shown(value)} is out of range")
    if isinstance(value, str):
        if spec.max_length is not None and len(value) > spec.max_length:
            raise _Invalid(f"is {len(value)} characters long")
        if not spec.allow_empty and not value.strip():
            raise _Invalid("must not be empty")


def validate_fields(
    specs: Sequence[FieldSpec], body: Mapping[str, Any], *, ignore_unknown: bool = False
) -> dict[str, Any]:
    """Validate a request body against `specs`; returns every field, defaults filled in.

    Raises BadRequest naming each problem. Unknown body fields are refused so typos never pass
    silently; query strings (ignore_unknown) may carry extras such as cache-busters.
    """
    by_name = {spec.name: spec for spec in specs}
    problems: list[str] = []
    unknown = [] if ignore_unknown else sorted(name for name in body if name not in by_name)
    if unknown:
        problems.append(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"supported fields: {', '.join(by_name)}"
        )
    result: dict[str, Any] = {}
    for spec in specs:
        raw = body.get(spec.name, _MISSING)
        if raw is _MISSING or raw is None or (isinstance(raw, str) and raw == "" and spec.type != "string"):
            if spec.required:
                problems.append(f"{spec.name} is required")
            result[spec.name] = spec.default
            continue
        try:
            value = _coerce(spec, raw)
            _check(spec, value)
        except _Invalid as exc:
            problems.append(f"{spec.name} {exc}; {spec.allowed()}")
            continue
        result[spec.name] = value
    if problems:
        raise BadRequest("; ".join(problems))
    return result


def object_schema(specs: Sequence[FieldSpec]) -> dict[str, Any]:
    """JSON schema for OpenAPI docs, built from the same specs that validate."""
    return {
        "type": "object",
        "properties": {spec.name: spec.json_schema() for spec in specs},
        "required": [spec.name for spec in specs if spec.required],
        "additionalProperties": False,
    }
