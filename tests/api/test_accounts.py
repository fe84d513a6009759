"""Accounts: create, read, update, delete, features, and every validation error."""

from __future__ import annotations

import pytest

from support import Api, Server
from taxiway.accounts.service import grant_credits, set_plan


def test_account_lifecycle(api: Api) -> None:
    created = api.create_account("second@example.com", max_jobs=3)
    assert created["email"] == "second@example.com"
    assert created["maxJobs"] == 3
    assert created["credits"] == {"permitted": 1000, "used": 0, "available": 1000}

    listed = api.http.get("/accounts").json()
    assert set(listed) == {"me@example.com", "second@example.com"}
    assert listed["second@example.com"]["maxJobs"] == 3

    updated = api.create_account("second@example.com", max_jobs=7)
    assert updated["maxJobs"] == 7
    assert api.http.get("/accounts/second@example.com").json()["maxJobs"] == 7

    assert api.http.delete("/accounts/second@example.com").status_code == 204
    missing = api.http.get("/accounts/second@example.com")
    assert missing.status_code == 404
    assert "POST /accounts/second@example.com" in missing.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"email": "a@b.co"}, "maxJobs is required"),
        ({"email": "a@b.co", "maxJobs": 0}, "maxJobs 0 is out of range; valid range: 1…10"),
        ({"email": "a@b.co", "maxJobs": 11}, "maxJobs 11 is out of range; valid range: 1…10"),
        ({"email": "a@b.co", "maxJobs": "many"}, "maxJobs must be an integer, got 'many'"),
        ({"email": "a@b.co", "maxJobs": 2.5}, "maxJobs must be an integer, got 2.5"),
        (
            {"email": "x@b.co", "maxJobs": 2},
            "email in the body (x@b.co) must match the email in the URL path (a@b.co)",
        ),
        ({"maxJobs": 2}, "email is required"),
        ({"email": "a@b.co", "maxJobs": 2, "password": "x"}, "unknown field password"),
        (
            {"email": "a@b.co", "maxJobs": 2, "replyUrl": "ftp://x.org/"},
            "replyUrl is malformed; expected an absolute http:// or https:// URL",
        ),
        (
            {"email": "a@b.co", "maxJobs": 2, "replyUrl": "https://x.org/" + "a" * 1020},
            "at most 1024 characters",
        ),
    ],
)
def test_account_validation(idle_server: Server, body: dict, message: str) -> None:
    api = idle_server.new_user()
    response = api.http.post("/accounts/a@b.co", json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert response.json()["code"] == 400


def test_invalid_email_in_path(idle_server: Server) -> None:
    api = idle_server.new_user()
    response = api.http.post("/accounts/not-an-email", json={"email": "not-an-email", "maxJobs": 1})
    assert response.status_code == 400
    assert response.json()["error"] == "email 'not-an-email' is not a valid email address"


def test_form_data_bodies_are_accepted(idle_server: Server) -> None:
    api = idle_server.new_user()
    response = api.http.post("/accounts/f@b.co", data={"email": "f@b.co", "maxJobs": "4"})
    assert response.status_code == 200, response.text
    assert response.json()["maxJobs"] == 4


def test_malformed_json_body(idle_server: Server) -> None:
    api = idle_server.new_user()
    response = api.http.post(
        "/accounts/a@b.co", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("The request body is not valid JSON")


def test_features_and_admin_credits(idle_server: Server) -> None:
    api = idle_server.new_user("featured")
    api.create_account("f@example.com")
    features = api.http.get("/features").json()
    assert features["permitted"] == {"numPlanCredits": 1000}
    assert features["used"] == {"numPlanCredits": 0}
    grant_credits(idle_server.ctx.db, "f@example.com", 500)
    set_plan(idle_server.ctx.db, "f@example.com", "unlimited")
    features = api.http.get("/features", params={"email": "f@example.com"}).json()
    assert features["numPlanCredits_permitted"] == 1500
    assert features["plan"] == "unlimited"

    api.create_account("g@example.com")
    ambiguous = api.http.get("/features")
    assert ambiguous.status_code == 400
    assert "email is required when several accounts are configured" in ambiguous.json()["error"]


def test_accounts_are_private_to_their_user(idle_server: Server) -> None:
    alice = idle_server.new_user()
    bob = idle_server.new_user()
    alice.create_account("shared@example.com", max_jobs=2)
    assert bob.http.get("/accounts/shared@example.com").status_code == 404
    assert bob.http.get("/accounts").json() == {}
    assert bob.http.delete("/accounts/shared@example.com").status_code == 404
    # Bob may have his own account with the same email: accounts are per user.
    bob.create_account("shared@example.com", max_jobs=9)
    assert alice.http.get("/accounts/shared@example.com").json()["maxJobs"] == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://metadata.google.internal/x",
        "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
        "http://[::ffff:169.254.169.254]/latest/meta-data",
    ],
)
def test_private_callback_urls_are_refused(make_server, url: str) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=0, allow_private_callbacks=False)
    api = server.new_user()
    response = api.http.post("/accounts/a@b.co", json={"email": "a@b.co", "maxJobs": 1, "replyUrl": url})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("replyUrl host")
    assert "TAXIWAY_ALLOW_PRIVATE_CALLBACKS=1" in error


def test_callback_host_inside_a_6to4_address_is_named(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=0, allow_private_callbacks=False)
    api = server.new_user()
    body = {"email": "a@b.co", "maxJobs": 1, "replyUrl": "http://[2002:a9fe:a9fe::]/hook"}
    response = api.http.post("/accounts/a@b.co", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "replyUrl host 2002:a9fe:a9fe:: is a link-local address (169.254.169.254 inside it); "
    )


def test_callback_host_that_does_not_resolve_yet_is_accepted(make_server) -> None:  # type: ignore[no-untyped-def]
    # DNS may be down or the receiver not yet published: every delivery looks it up again.
    server = make_server(workers=0, allow_private_callbacks=False)
    api = server.new_user()
    body = {"email": "a@b.co", "maxJobs": 1, "replyUrl": "https://receiver.invalid/hook"}
    response = api.http.post("/accounts/a@b.co", json=body)
    assert response.status_code == 200
    assert response.json()["replyUrl"] == "https://receiver.invalid/hook"


def test_callback_host_that_is_no_host_name_is_refused(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=0, allow_private_callbacks=False)
    api = server.new_user()
    host = "a" * 64 + ".example.com"  # a DNS label holds at most 63 characters
    body = {"email": "a@b.co", "maxJobs": 1, "replyUrl": f"https://{host}/hook"}
    response = api.http.post("/accounts/a@b.co", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == f"replyUrl host {host} is not a valid host name"


def test_public_callback_url_is_accepted(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=0, allow_private_callbacks=False)
    api = server.new_user()
    body = {"email": "a@b.co", "maxJobs": 1, "replyUrl": "https://93.184.215.14/hook"}
    assert api.http.post("/accounts/a@b.co", json=body).status_code == 200
