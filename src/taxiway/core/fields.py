"""Declarative request fields: one place for the contract's types, ranges and defaults.

Bodies arrive as JSON or multipart/form-data (where every value is a string), so values are
coerced by the field's type, never by guessing. Each violation becomes one precise sentence:
which field, what was wrong, what is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from taxiway.core.errors import BadRequest

FieldType = Literal["string", "integer", "number", "boolean"]

# White space, for regular expression character classes that Python and JSON Schema (ECMA-262)
# read alike: their \s differ (Python's takes \x1c-\x1f, ECMA's takes U+FEFF), so patterns the
# document states use [{SPACE}] instead.
SPACE = " \t\n\r\f\v"
# No text field takes it: PostgreSQL cannot store it in text (its bound parameters refuse it).
NUL = "\x00"
# What . matches in JSON Schema (ECMA-262); Python's . takes \r, U+2028 and U+2029 too.
NOT_LINE_BREAK = f"[^\n\r\u2028\u2029{NUL}]"

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
    # A regular expression the value must match (read alike by Python and JSON Schema), and how a
    # matching value looks, for the error message.
    pattern: str | None = None
    pattern_hint: str | None = None
    # A list in one string, its items joined by commas, each one of `choices` (in any case).
    comma_separated: bool = False

    def allowed(self) -> str:
        if self.choices is not None:
            return "supported values: " + ", ".join(str(choice) for choice in self.choices)
        if self.minimum is not None and self.maximum is not None:
            return f"valid range: {_number(self.minimum)}…{_number(self.maximum)}"
        if self.max_length is not None:
            return f"at most {self.max_length} characters"
        return _article(self.type)

    def json_schema(self, *, nullable: bool = False) -> dict[str, Any]:
        """The JSON schema of this field: what `validate_fields` accepts, said for the docs.
        `nullable`: null is accepted too (as in JSON bodies, where it means "not given")."""
        schema: dict[str, Any] = {"type": self.type}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.comma_separated:
            schema = {"type": "array", "items": schema}
        if nullable and not self.required:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern  # which leaves NUL out, as validation does
        elif not self.allow_empty:
            schema |= {"minLength": 1, "pattern": f"^[^{NUL}]*[^{SPACE}{NUL}][^{NUL}]*$"}
        elif self.type == "string" and self.choices is None:
            schema["pattern"] = f"^[^{NUL}]*$"
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


_NOT_BLANK = re.compile(f"[^{SPACE}]")  # what `allow_empty=False` asks: a character other than white space


def python_pattern(pattern: str) -> str:
    """A JSON Schema pattern as Python reads it alike: its final $ ends the text (Python's also
    matches before a final newline)."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


class _Invalid(Exception):
    def __init__(self, reason: str, allowed: str | None = None) -> None:
        super().__init__(reason)
        # What is allowed, when the spec's own summary would not say it ("": nothing to add).
        self.allowed = allowed


def _items(spec: FieldSpec, value: str) -> list[Any]:
    """The items of a list field, each spelt as in `choices`."""
    known = {str(choice).lower(): choice for choice in spec.choices or ()}
    if not value.strip():
        return []
    parts = [part.strip() for part in value.split(",")]
    if "" in parts:
        raise _Invalid(f"has an empty item in {_shown(value)}")
    unknown = [part for part in parts if part.lower() not in known]
    if unknown:
        raise _Invalid(f"has unknown value(s) {', '.join(unknown)}")
    return [known[part.lower()] for part in parts]


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """Convert one raw value to the field's type, or raise _Invalid with the reason."""
    if spec.type == "string":
        if not isinstance(value, str):
            raise _Invalid(f"must be a string, got {_shown(value)}")
        if NUL in value:
            raise _Invalid("must not contain NUL characters (U+0000)", "")
        return _items(spec, value) if spec.comma_separated else value
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
        # Text (forms, query strings) in JSON's own grammar: float() would take "1_0", "0x1p3", "inf".
        grammar = _INTEGER_TEXT if spec.type == "integer" else _NUMBER_TEXT
        if not grammar.fullmatch(value.strip()):
            raise _Invalid(f"must be {_article(spec.type)}, got {_shown(value)}")
        number = float(value.strip())
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
    if spec.comma_separated:
        return  # its items were checked as they were split
    if spec.choices is not None and value not in spec.choices:
        raise _Invalid(f"{_shown(value)} is not supported")
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        raise _Invalid(f"{_shown(value)} is out of range")
    if isinstance(value, str):
        if spec.max_length is not None and len(value) > spec.max_length:
            raise _Invalid(f"is {len(value)} characters long", f"at most {spec.max_length} characters")
        if not spec.allow_empty and not _NOT_BLANK.search(value):
            raise _Invalid("must not be empty")
        if spec.pattern is not None and not re.search(python_pattern(spec.pattern), value):
            raise _Invalid("is malformed", f"expected {spec.pattern_hint}" if spec.pattern_hint else None)


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
            allowed = spec.allowed() if exc.allowed is None else exc.allowed
            problems.append(f"{spec.name} {exc}; {allowed}" if allowed else f"{spec.name} {exc}")
            continue
        result[spec.name] = value
    if problems:
        raise BadRequest("; ".join(problems))
    return result


def object_schema(specs: Sequence[FieldSpec], *, nullable: bool = False) -> dict[str, Any]:
    """JSON schema for OpenAPI docs, built from the same specs that validate. `nullable`: optional
    fields take null too (JSON bodies; a form has no null)."""
    return {
        "type": "object",
        "properties": {spec.name: spec.json_schema(nullable=nullable) for spec in specs},
        "required": [spec.name for spec in specs if spec.required],
        "additionalProperties": False,
    }


def query_parameters(specs: Sequence[FieldSpec]) -> list[dict[str, Any]]:
    """OpenAPI query parameters, built from the same specs that validate the query string."""
    parameters = []
    for spec in specs:
        parameter: dict[str, Any] = {
            "name": spec.name,
            "in": "query",
            "required": spec.required,
            "description": spec.description,
            "schema": spec.json_schema(),
        }
        if spec.comma_separated:  # statuses=PENDING,RUNNING: a form-style list, not exploded
            parameter |= {"style": "form", "explode": False}
        if not spec.required and (spec.type != "string" or spec.comma_separated):
            parameter["allowEmptyValue"] = True  # ?limit= is "not given", as validate_fields reads it
        parameters.append(parameter)
    return parameters
