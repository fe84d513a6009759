"""Callback delivery and DNS: one lookup per attempt, the checked address is the one connected to,
and a name that does not resolve is retried like any network failure."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from support import Receiver, Server
from taxiway.store.models import WebhookDelivery
from taxiway.webhooks import addresses

NAME = "hooks.example"


class FakeDns:
    """Answers lookups of NAME from a script (None: the name does not resolve); others go to the real one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.script: list[str | None] = ["127.0.0.1"]
        self.lookups = 0
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host not in (NAME, NAME.encode()):
                return real(host, *args, **kwargs)
            answer = self.script[min(self.lookups, len(self.script) - 1)]
            self.lookups += 1
            if answer is None:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real(answer, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def answer(self, *script: str | None) -> None:
        """From now on: one answer per lookup, the last one repeated."""
        self.script, self.lookups = list(script), 0


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    return FakeDns(monkeypatch)


@pytest.fixture
def public_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge 127.0.0.1 (where the test's receiver listens) public; every other address as usual.

    So the tests run with private callbacks refused, as in production, and 127.0.0.2 stands for an
    address a rebinding name would switch to.
    """
    real = addresses.refusal_reason

    def refusal_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if ip == ipaddress.ip_address("127.0.0.1") else real(ip)

    monkeypatch.setattr(addresses, "refusal_reason", refusal_reason)


def cancelled_task_delivery(
    make_server: Callable[..., Server], clip: Path, reply_url: str, dns: FakeDns, *script: str | None
) -> tuple[Server, str]:
    """A queued task calling back `reply_url`, cancelled once DNS answers `script`: the task id."""
    server = make_server(workers=0, allow_private_callbacks=False, webhook_first_retry_seconds=0.2)
    api = server.new_user()
    api.create_account("hooks@example.com")
    asset = api.upload(clip, "video/mp4")
    task = api.create("videos/upscale", {"videoAssetId": asset["assetId"], "replyUrl": reply_url}).json()
    assert "taskId" in task, task
    dns.answer(*script)  # admission looked the name up too; count only the deliverer's lookups
    assert api.http.delete(f"/tasks/{task['taskId']}").status_code == 200
    return server, task["id"]


def wait_for_delivery(
    server: Server, task_id: str, until: Callable[[WebhookDelivery], bool]
) -> WebhookDelivery:
    deadline = time.monotonic() + 30
    while True:
        with server.ctx.db.read() as session:
            delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.task_id == task_id))
        if delivery is not None and (until(delivery) or time.monotonic() > deadline):
            return delivery
        time.sleep(0.05)


def test_delivery_connects_to_the_address_it_checked(
    make_server: Callable[..., Server], clip: Path, receiver: Receiver, dns: FakeDns, public_receiver: None
) -> None:
    # The name answers the checked 127.0.0.1 once, then 127.0.0.2 (refused) to any second lookup.
    url = f"http://{NAME}:{receiver.port}/hook"
    server, task_id = cancelled_task_delivery(make_server, clip, url, dns, "127.0.0.1", "127.0.0.2")
    assert receiver.wait_for("CANCELLED", timeout=30)["id"] == task_id
    delivery = wait_for_delivery(server, task_id, lambda d: d.state != "pending")
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    assert dns.lookups == 1
    headers, _ = receiver.received[-1]
    assert headers["Host"] == f"{NAME}:{receiver.port}"


def test_rebinding_to_a_private_address_is_refused_for_good(
    make_server: Callable[..., Server], clip: Path, receiver: Receiver, dns: FakeDns, public_receiver: None
) -> None:
    url = f"http://{NAME}:{receiver.port}/hook"
    server, task_id = cancelled_task_delivery(make_server, clip, url, dns, "127.0.0.2")
    delivery = wait_for_delivery(server, task_id, lambda d: d.state != "pending")
    assert delivery.state == "failed"
    assert delivery.last_error == f"callback URL refused: host {NAME} resolves to a loopback address"
    assert receiver.received == []


def test_a_name_that_does_not_resolve_at_delivery_is_retried(
    make_server: Callable[..., Server], clip: Path, receiver: Receiver, dns: FakeDns, public_receiver: None
) -> None:
    url = f"http://{NAME}:{receiver.port}/hook"
    server, task_id = cancelled_task_delivery(make_server, clip, url, dns, None)
    delivery = wait_for_delivery(server, task_id, lambda d: d.attempts >= 1)
    assert delivery.state == "pending"
    assert delivery.next_attempt_at > delivery.created_at
    assert delivery.last_error is not None and f"host {NAME} could not be resolved" in delivery.last_error
    dns.answer("127.0.0.1")  # the name is back
    assert receiver.wait_for("CANCELLED", timeout=30)["id"] == task_id
    delivery = wait_for_delivery(server, task_id, lambda d: d.state != "pending")
    assert delivery.state == "delivered"
    assert delivery.attempts >= 2
