"""Signed callbacks in the Standard Webhooks format (https://www.standardwebhooks.com).

Headers: webhook-id, webhook-timestamp (unix seconds) and webhook-signature ("v1,<base64>"),
the HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed by the user's secret ("whsec_<base64 key>").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    pass


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None) -> None:
    """Check a received callback; raises InvalidSignature. For receivers of our callbacks."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        signatures = lowered["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise InvalidSignature(f"missing or malformed webhook headers ({exc})") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("timestamp outside the tolerated window")
    expected = sign(secret, message_id, timestamp, body)
    # As bytes: compare_digest refuses non-ASCII strings, and headers can hold anything.
    sent = [candidate.encode("utf-8", "replace") for candidate in signatures]
    if not any(hmac.compare_digest(expected.encode(), candidate) for candidate in sent):
        raise InvalidSignature("no signature matches")
