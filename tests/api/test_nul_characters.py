"""A NUL character (U+0000) in any text is a 400 naming the field, on SQLite and PostgreSQL alike:
PostgreSQL cannot store one, so it was a 500 there (found by schemathesis)."""

from __future__ import annotations

from pathlib import Path

from support import Api, Server


def test_nul_characters_are_refused_by_name(server: Server, clip: Path) -> None:
    api: Api = server.new_user()
    api.create_account("nul@example.com")
    asset = api.upload(clip, "video/mp4")["assetId"]
    cases = [
        (api.create("gen3alpha/upscale", {"assetId": asset, "replyRef": "a\x00b"}), "replyRef"),
        (
            api.http.post(
                "/accounts/nul@example.com",
                json={"email": "nul@example.com", "maxJobs": 1, "replyUrl": "https://x.org/\x00"},
            ),
            "replyUrl",
        ),
        (api.http.get("/assets/", params={"sha256": "ab\x00"}), "sha256"),
        (api.http.get("/tasks/", params={"email": "a\x00@b.co"}), "email"),
        (
            api.http.post(
                "/assets/",
                params={"name": "a\x00.mp4"},
                content=clip.read_bytes(),
                headers={"Content-Type": "video/mp4"},
            ),
            "name",
        ),
    ]
    for response, field in cases:
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(f"{field} must not contain NUL characters (U+0000)"), field
    # In a path: no account has that email, and the database is not asked.
    response = api.http.get("/accounts/a%00b@example.com")
    assert response.status_code == 404
    assert response.json()["error"].startswith("Configuration not found for a\x00b@example.com")
    response = api.http.post(
        "/accounts/a%00b@example.com", json={"email": "a\x00b@example.com", "maxJobs": 1}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "email 'a\\x00b@example.com' is not a valid email address"
