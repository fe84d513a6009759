"""Query strings are read as the OpenAPI document states them: each field once, numbers in JSON's
grammar, lists without empty items; an empty value is "not given"; other parameters are ignored."""

from __future__ import annotations

import pytest

from support import Api, Server


@pytest.fixture
def user(idle_server: Server) -> Api:
    api = idle_server.new_user()
    api.create_account()
    return api


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/assets/", "limit=5&limit=6", "limit given more than once in the query string; give each once"),
        ("/tasks/", "offset=1&email=a@b.co&offset=2", "offset given more than once in the query string"),
        ("/assets/", "offset=1.0", "offset must be an integer, got '1.0'; valid range: 0…1000"),
        ("/tasks/", "limit=1_0", "limit must be an integer, got '1_0'; valid range: 1…1000"),
        (
            "/tasks/",
            "statuses=PENDING,",
            "statuses has an empty item in 'PENDING,'; supported values: PENDING",
        ),
        ("/tasks/", "statuses=,", "statuses has an empty item in ','"),
        ("/tasks/", "statuses=RUNNING,DONE", "statuses has unknown value(s) DONE; supported values: PENDING"),
    ],
)
def test_query_string_errors_name_the_parameter(user: Api, path: str, query: str, message: str) -> None:
    response = user.http.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(message)
    assert response.json()["code"] == 400


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/assets/", "limit=&offset="),  # empty: not given
        ("/tasks/", "statuses="),
        ("/tasks/", "statuses=pending,%20running%20"),  # any case, spaces around items
        ("/tasks/", "limit=%205%20&_=123"),  # a cache-buster is ignored
    ],
)
def test_lenient_query_strings_are_still_accepted(user: Api, path: str, query: str) -> None:
    assert user.http.get(f"{path}?{query}").status_code == 200
