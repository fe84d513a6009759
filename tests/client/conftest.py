"""A running server and a user with an account, as the client sees them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from support import FAST, Api, Server
from taxiway.client import Client


@pytest.fixture
def one_slot_server(make_server: Callable[..., Server]) -> Server:
    """A SQLite server with one worker slot."""
    return make_server()


@pytest.fixture
def user(one_slot_server: Server) -> Api:
    """A user with the account me@example.com (maxJobs 5)."""
    api = one_slot_server.new_user()
    api.create_account()
    return api


@pytest.fixture
def idle_user(idle_server: Server) -> Api:
    """A user on a server that runs nothing: tasks stay queued."""
    api = idle_server.new_user()
    api.create_account(max_jobs=1)
    return api


@pytest.fixture
def client(user: Api) -> Iterator[Client]:
    with Client(user.base_url, user.token, policy=FAST) as client:
        yield client
