"""For receivers of taxiway's signed callbacks (Standard Webhooks: webhook-id/-timestamp/-signature)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from taxiway.client.models import Task
from taxiway.webhooks.signing import InvalidSignature, verify


def verify_callback(secret: str, headers: Mapping[str, str], body: bytes) -> Task:
    """Check a callback's signature and freshness, then parse it; raises InvalidSignature.

    `secret` is your `whsec_…` secret (Client.webhook_secret() or `taxiway admin user secret`);
    `body` must be the raw bytes as received, before any JSON parsing.
    """
    verify(secret, dict(headers), body)
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidSignature("the signed body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidSignature("the signed body is not a task object")
    return Task.from_json(data)


__all__ = ["InvalidSignature", "verify_callback"]
