"""Bearer tokens: missing, wrong or revoked tokens answer the contract's 401 everywhere."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support import API, Server
from taxiway.users.service import revoke_tokens

PROTECTED = [
    ("GET", "/assets/"),
    ("POST", "/assets/?name=x"),
    ("GET", "/tasks/"),
    ("GET", "/tasks/user:abc-runwayml:a@b.c-task:00000000-0000-0000-0000-000000000000"),
    ("GET", "/scheduler/"),
    ("GET", "/accounts"),
    ("POST", "/accounts/a@b.c"),
    ("GET", "/features"),
    ("POST", "/gen3alpha/upscale"),
    ("POST", "/videos/upscale"),
    ("POST", "/gen3turbo/video"),
    ("POST", "/gen3turbo/expand"),
    ("POST", "/gen3/extend"),
    ("POST", "/gen3turbo/extend"),
]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "twy_notbearer"])
def test_every_endpoint_refuses_missing_or_bad_tokens(idle_server: Server, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for method, path in PROTECTED:
        response = httpx.request(method, idle_server.base_url + API + path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json() == {"error": "Unauthorized", "code": 401}


def test_revoked_token_stops_working(idle_server: Server) -> None:
    api = idle_server.new_user("revokee")
    assert api.http.get("/accounts").status_code == 200
    assert revoke_tokens(idle_server.ctx.db, "revokee") == 1
    assert api.http.get("/accounts").json() == {"error": "Unauthorized", "code": 401}


def test_a_revoked_token_stops_reading_tasks_at_once(idle_server: Server, clip: Path) -> None:
    # GET tasks checks the token in the read's own transaction (TokenCaller), not a cached answer.
    api = idle_server.new_user("reader")
    api.create_account(max_jobs=2)
    asset = api.upload(clip, "video/mp4")["assetId"]
    task = api.create("gen3alpha/upscale", {"assetId": asset}).json()["taskId"]
    for _ in range(3):
        assert api.http.get(f"/tasks/{task}").status_code == 200
        assert api.http.get("/tasks/").status_code == 200
    assert revoke_tokens(idle_server.ctx.db, "reader") == 1
    for path in (f"/tasks/{task}", "/tasks/", "/tasks/?limit=nonsense"):
        assert api.http.get(path).json() == {"error": "Unauthorized", "code": 401}, path


def test_health_needs_no_token_and_reports_workers(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(workers=1)
    body = httpx.get(server.base_url + "/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["workers"]["slots"] == 1


def test_unknown_routes_answer_in_the_contract_shape(idle_server: Server) -> None:
    response = httpx.get(idle_server.base_url + API + "/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found.", "code": 404}


def test_openapi_documents_every_endpoint(idle_server: Server) -> None:
    spec = httpx.get(idle_server.base_url + "/openapi.json").json()
    paths = spec["paths"]
    for path in ("gen3alpha/upscale", "videos/upscale", "gen3turbo/video", "gen3turbo/expand", "gen3/extend"):
        body = paths[f"{API}/{path}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "replyUrl" in body["properties"]
        assert body["properties"]["maxJobs"]["maximum"] == 10
    video = paths[f"{API}/gen3turbo/video"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert video["required"] == ["assetId", "text_prompt"]
    assert video["properties"]["seconds"]["enum"] == [5, 10, None]  # JSON's null: not given
    for path in ("/assets/", "/tasks/{task_id}", "/scheduler/", "/accounts/{email}", "/features"):
        assert f"{API}{path}" in paths, path
    docs = httpx.get(idle_server.base_url + "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
