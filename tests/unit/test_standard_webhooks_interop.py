"""Our callback signatures and the Standard Webhooks reference library (standardwebhooks) agree
both ways: a receiver using the library accepts ours, and our verifier accepts the library's."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from taxiway.core.security import new_webhook_secret
from taxiway.webhooks.signing import InvalidSignature, signed_headers, verify

BODY = b'{"id":"t1","status":"SUCCEEDED","note":"caf\\u00e9 \xc3\xa9"}'


def test_the_reference_library_accepts_our_callbacks() -> None:
    secret = new_webhook_secret()
    headers = signed_headers(secret, "msg_1", BODY)
    assert Webhook(secret).verify(BODY, headers, json_parse=False) is None  # raises if refused
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(BODY, headers)


def test_we_accept_what_the_reference_library_signs() -> None:
    secret = new_webhook_secret()
    now = int(time.time())
    signature = Webhook(secret).sign("msg_2", datetime.fromtimestamp(now, UTC), BODY.decode())
    headers = {"webhook-id": "msg_2", "webhook-timestamp": str(now), "webhook-signature": signature}
    verify(secret, headers, BODY)  # raises if refused
    with pytest.raises(InvalidSignature):
        verify(secret, headers | {"webhook-id": "msg_3"}, BODY)
