"""The contract's composite identifiers: user:<uid>-runwayml:<email>-(task|asset):<uuid>."""

from __future__ import annotations

import re
import uuid
from typing import Literal

Kind = Literal["task", "asset"]

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_COMPOSITE = {
    kind: re.compile(rf"^user:(?P<uid>[0-9a-z]+)-runwayml:(?P<email>.+)-{kind}:(?P<uuid>{_UUID})$")
    for kind in ("task", "asset")
}
_BARE = re.compile(rf"^{_UUID}$")


def new_uuid() -> str:
    return str(uuid.uuid4())


def compose(kind: Kind, user_id: str, email: str, row_id: str) -> str:
    return f"user:{user_id}-runwayml:{email}-{kind}:{row_id}"


def parse(kind: Kind, value: str) -> str | None:
    """The row uuid inside a composite id (or a bare uuid, an extension); None if malformed."""
    value = value.strip()
    if _BARE.match(value):
        return value.lower()
    match = _COMPOSITE[kind].match(value)
    return match.group("uuid").lower() if match else None
