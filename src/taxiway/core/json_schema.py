"""Small builders for response schemas: each presenter states the shape it sends beside the code
that sends it, and the routes name them in the OpenAPI document (taxiway.api.openapi)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
OBJECT: Schema = {"type": "object"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, NULL]}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def enum(values: Iterable[Any]) -> Schema:
    return {"enum": list(values)}


def described(schema: Schema, description: str) -> Schema:
    return schema | {"description": description}


def closed(properties: dict[str, Schema], optional: Iterable[str] = ()) -> Schema:
    """An object with exactly these properties, all of them present unless `optional`: a presenter
    that grows a field without its schema fails the schema test instead of drifting silently."""
    skipped = set(optional)
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in skipped],
        "additionalProperties": False,
    }
