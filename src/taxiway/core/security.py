"""API tokens (stored hashed), webhook signing secrets, and expiring signed links."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

TOKEN_PREFIX = "twy_"


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()


def new_user_id() -> str:
    return secrets.token_hex(6)


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: "whsec_" + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class LinkSigner:
    """Signs blob keys into expiring query strings, so a link works without the bearer token."""

    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def _signature(self, key: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def sign(self, key: str, now: float | None = None) -> tuple[int, str]:
        # Round expiry up to the hour so the same link is returned on every poll within the hour.
        now = time.time() if now is None else now
        expires = int((now + self.ttl_seconds) // 3600 + 1) * 3600
        return expires, self._signature(key, expires)

    def sign_for(self, key: str, seconds: int, now: float | None = None) -> tuple[int, str]:
        """A signature valid for exactly ``seconds`` (short-lived links: no rounding up)."""
        now = time.time() if now is None else now
        expires = int(now) + seconds
        return expires, self._signature(key, expires)

    def verify(self, key: str, expires: str | int, signature: str, now: float | None = None) -> bool:
        """Whether ``signature`` signs ``key`` until ``expires`` (as sent in the link's query string;
        anything malformed is simply not valid)."""
        now = time.time() if now is None else now
        try:
            expires_at = int(expires)
        except ValueError:
            return False
        if expires_at < now:
            return False
        # As bytes: compare_digest refuses non-ASCII strings, and a query string can hold anything.
        sent = signature.encode("utf-8", "replace")
        return hmac.compare_digest(self._signature(key, expires_at).encode(), sent)
