"""Callbacks: signed, delivered on every status change, retried until the receiver takes them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support import Api, Receiver, Server
from taxiway.webhooks.signing import InvalidSignature, verify


def test_signed_callbacks_on_every_status_change(
    server: Server, api: Api, short_clip: Path, receiver: Receiver
) -> None:
    secret = api.http.get("/webhooks/secret").json()["secret"]
    assert secret.startswith("whsec_")
    asset = api.upload(short_clip, "video/mp4")
    task = api.create(
        "videos/upscale", {"videoAssetId": asset["assetId"], "replyUrl": receiver.url, "replyRef": "order-7"}
    ).json()
    final = receiver.wait_for("SUCCEEDED")
    assert final["taskId"] == task["taskId"]
    assert final["replyRef"] == "order-7"
    assert final["artifacts"] and final["artifacts"][0]["url"].startswith("http")
    statuses = [payload["status"] for payload in receiver.payloads()]
    assert "RUNNING" in statuses
    assert statuses[-1] == "SUCCEEDED"
    assert statuses.index("RUNNING") < statuses.index("SUCCEEDED")
    for headers, body in receiver.received:
        verify(secret, headers, body)  # raises if any signature is wrong
        assert headers["content-type"] == "application/json"
    headers, body = receiver.received[-1]
    with pytest.raises(InvalidSignature):
        verify(secret, headers, body + b" ")
    with pytest.raises(InvalidSignature):
        verify("whsec_" + "A" * 44, headers, body)
    with pytest.raises(InvalidSignature):  # a hostile header is a bad signature, not a TypeError
        verify(secret, headers | {"webhook-signature": "v1,é"}, body)


def test_terminal_callback_is_retried_until_delivered(
    make_server,
    clip: Path,
    receiver: Receiver,  # type: ignore[no-untyped-def]
) -> None:
    server = make_server(workers=0, webhook_first_retry_seconds=0.2)
    api = server.new_user()
    api.create_account("hooks@example.com", replyUrl=receiver.url)  # the account's default callback
    receiver.fail_first = 3
    asset = api.upload(clip, "video/mp4")
    task = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    api.http.delete(f"/tasks/{task['taskId']}")
    cancelled = receiver.wait_for("CANCELLED", timeout=30)
    assert cancelled["taskId"] == task["taskId"]
    from sqlalchemy import select

    from taxiway.store.models import WebhookDelivery

    # The sender records the delivery after the receiver has answered: under load that lags the
    # receiver, so wait for the record rather than read it once.
    deadline = time.monotonic() + 30
    while True:
        with server.ctx.db.read() as session:
            delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.task_id == task["id"]))
        assert delivery is not None
        if delivery.state != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert delivery.state == "delivered"
    assert delivery.attempts == 4


def test_a_callback_url_httpx_cannot_send_to_is_given_up_at_once(make_server, clip: Path) -> None:  # type: ignore[no-untyped-def]
    """Found by schemathesis: a host that is not valid IDNA passes the URL syntax check, and httpx
    raises InvalidURL (not an HTTPError) for it; that was logged as unexpected and retried for a day."""
    from sqlalchemy import select

    from taxiway.store.models import WebhookDelivery

    server = make_server(workers=0, webhook_first_retry_seconds=0.2)
    api = server.new_user()
    api.create_account("idna@example.com", replyUrl="http://a\U000f3e12b/hook")
    asset = api.upload(clip, "video/mp4")
    task = api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()
    api.http.delete(f"/tasks/{task['taskId']}")
    deadline = time.monotonic() + 30
    while True:
        with server.ctx.db.read() as session:
            delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.task_id == task["id"]))
        if (delivery is not None and delivery.state != "pending") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert delivery is not None and delivery.state == "failed"
    assert delivery.attempts == 1
    assert delivery.last_error.startswith("callback URL refused: host ")
    assert delivery.last_error.endswith("is not a valid host name")


def test_progress_callbacks_are_throttled(make_server, media_dir: Path, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    from mediafiles import make_video

    interval = 0.5
    server = make_server(workers=1, webhook_progress_interval_seconds=interval)
    api = server.new_user()
    api.create_account()
    # 36 frames at 4K: several seconds of running, several intervals, for little work.
    clip = make_video(media_dir / "progress.mp4", width=320, height=180, seconds=3.0, fps=12, audio=False)
    asset = api.upload(clip, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"], "replyUrl": receiver.url}).json()
    receiver.wait_for("SUCCEEDED", timeout=120)
    done = api.task(task["taskId"])
    running_seconds = _ts(done["updatedAt"]) - _ts(done["createdAt"])
    progress = [p for p in receiver.payloads() if p["status"] == "RUNNING"]
    # One when it starts, then at most one per interval of running.
    assert 1 <= len(progress) <= running_seconds / interval + 2


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
