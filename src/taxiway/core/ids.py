"""The contract's composite identifiers: user:<uid>-runwayml:<email>-(task|asset):<uuid>."""

from __future__ import annotations

import re
import uuid
from typing import Literal

from taxiway.core.fields import NOT_LINE_BREAK, SPACE

Kind = Literal["task", "asset"]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_LENGTH = 36


def ref_pattern(kind: Kind) -> str:
    """What `parse` accepts, as a regular expression that Python and JSON Schema (ECMA-262) read
    alike: the OpenAPI document states it, so generated clients and fuzzers know it too."""
    return rf"^[{SPACE}]*(?:{_UUID}|user:[0-9a-z]+-runwayml:{NOT_LINE_BREAK}+-{kind}:{_UUID})[{SPACE}]*$"


def ref_hint(kind: Kind) -> str:
    """How an id of this kind looks, for error messages."""
    return f"{'an' if kind == 'asset' else 'a'} {kind}Id like user:<id>-runwayml:<email>-{kind}:<uuid>"


_REFS = {kind: re.compile(ref_pattern(kind)) for kind in ("task", "asset")}


def new_uuid() -> str:
    return str(uuid.uuid4())


def compose(kind: Kind, user_id: str, email: str, row_id: str) -> str:
    return f"user:{user_id}-runwayml:{email}-{kind}:{row_id}"


def parse(kind: Kind, value: str) -> str | None:
    """The row uuid inside a composite id (or a bare uuid, an extension); None if malformed."""
    if not _REFS[kind].match(value):
        return None
    return value.strip(SPACE)[-_UUID_LENGTH:].lower()  # both forms end with the uuid
