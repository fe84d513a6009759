"""The OpenAPI document says what the server does: every parameter and body, every status a route
sends (in the contract's error shape, never FastAPI's 422), response schemas, and 405s with Allow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs  # schemathesis brings it
import pytest

from support import API, Server, free_port, settings_for_test
from taxiway.api.routes import assets, events, tasks
from taxiway.assets.service import CONTENT_TYPES
from taxiway.core.fields import FieldSpec


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    server = Server(settings_for_test(tmp_path_factory.mktemp("doc"), port=free_port(), workers=0)).start()
    try:
        return httpx.get(server.base_url + "/openapi.json").json()
    finally:
        server.stop()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def _query(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _assert_query_from_specs(operation: dict[str, Any], specs: tuple[FieldSpec, ...]) -> None:
    """The parameters are the specs' own: same names, required flags and schemas (ranges, defaults)."""
    query = _query(operation)
    assert list(query) == [spec.name for spec in specs]
    for spec in specs:
        assert query[spec.name]["required"] is spec.required
        assert query[spec.name]["schema"] == spec.json_schema()


def test_upload_declares_its_query_parameters_and_raw_body(document: dict[str, Any]) -> None:
    upload = document["paths"][f"{API}/assets/"]["post"]
    _assert_query_from_specs(upload, assets.UPLOAD_FIELDS)
    assert _query(upload)["name"]["required"] is True
    assert _query(upload)["name"]["schema"]["maxLength"] == 500
    body = upload["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == set(CONTENT_TYPES)
    assert body["content"]["video/mp4"]["schema"] == {"type": "string", "format": "binary"}
    assert set(upload["responses"]) == {"200", "400", "401", "404", "413", "507"}
    assert upload["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Asset"
    }


def test_lists_declare_their_query_parameters(document: dict[str, Any]) -> None:
    listing = document["paths"][f"{API}/tasks/"]["get"]
    _assert_query_from_specs(listing, tasks.LIST_FIELDS)
    statuses = _query(listing)["statuses"]
    assert statuses["style"] == "form" and statuses["explode"] is False  # statuses=PENDING,RUNNING
    assert statuses["schema"]["items"]["enum"] == [
        "PENDING",
        "THROTTLED",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
    ]
    assert _query(listing)["limit"]["schema"]["maximum"] == 1000
    _assert_query_from_specs(document["paths"][f"{API}/assets/"]["get"], assets.LIST_FIELDS)
    assert _query(document["paths"][f"{API}/assets/"]["get"])["limit"]["schema"]["maximum"] == 50
    assert list(_query(document["paths"][f"{API}/features"]["get"])) == ["email"]


def test_no_422_anywhere_and_every_error_in_the_contract_shape(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert schemas["Error"]["required"] == ["error", "code"]
    for method, path, operation in _operations(document):
        statuses = operation["responses"]
        assert "422" not in statuses, (method, path)
        for status, response in statuses.items():
            if status.startswith("4"):
                schema = _resolve(document, response["content"]["application/json"]["schema"])
                assert schema is schemas["Error"] or schema["allOf"] == [
                    {"$ref": "#/components/schemas/Error"}
                ], (
                    method,
                    path,
                    status,
                )
        if path.startswith(API) and not path.startswith(f"{API}/files/"):
            assert "401" in statuses, (method, path)
            # Event streams take the token or a signed stream link (an EventSource sends no headers).
            streams = (f"{API}/tasks/{{task_id}}/events", f"{API}/events")
            alternatives = [{"SignedStreamLink": []}] if path in streams else []
            assert operation["security"] == [{"HTTPBearer": []}, *alternatives], (method, path)


def test_each_route_declares_the_statuses_it_sends(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for operation in (
        "gen3alpha/upscale",
        "videos/upscale",
        "gen3turbo/video",
        "gen3turbo/expand",
        "gen3/extend",
    ):
        assert set(paths[f"{API}/{operation}"]["post"]["responses"]) == {
            "200",
            "400",
            "401",
            "404",
            "412",
            "429",
            "507",
        }
    busy = paths[f"{API}/gen3/extend"]["post"]["responses"]["429"]
    assert busy["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert busy["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AccountBusy"}
    assert set(paths[f"{API}/tasks/{{task_id}}"]["delete"]["responses"]) == {
        "200",
        "204",
        "401",
        "404",
        "409",
    }
    assert set(paths[f"{API}/assets/{{asset_id}}"]["delete"]["responses"]) == {
        "204",
        "400",
        "401",
        "404",
        "409",
    }
    assert set(paths[f"{API}/accounts/{{email}}"]["delete"]["responses"]) == {"204", "401", "404", "409"}
    assert set(paths[f"{API}/files/{{key}}"]["get"]["responses"]) == {"200", "400", "403", "404"}
    assert set(paths["/health"]["get"]["responses"]) == {"200", "503"}


def test_event_streams_and_their_links_are_declared(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, fields, finished in (
        (f"{API}/tasks/{{task_id}}/events", events.TASK_STREAM_FIELDS, {"204"}),
        (f"{API}/events", events.USER_STREAM_FIELDS, set()),
    ):
        stream = paths[path]["get"]
        _assert_query_from_specs(stream, fields)
        assert {"name": "Last-Event-ID", "in": "header"}.items() <= stream["parameters"][-1].items()
        assert set(stream["responses"]) == {"200", "400", "401", "403", "404"} | finished
        assert set(stream["responses"]["200"]["content"]) == {"text/event-stream"}
    link = paths[f"{API}/events/links"]["post"]
    assert set(link["responses"]) == {"200", "400", "401", "404"}
    assert link["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StreamLink"
    }
    assert link["requestBody"]["required"] is False
    schemes = document["components"]["securitySchemes"]
    assert schemes["SignedStreamLink"] == {
        "type": "apiKey",
        "in": "query",
        "name": "signature",
        "description": schemes["SignedStreamLink"]["description"],
    }
    task = document["components"]["schemas"]["Task"]["properties"]["queuePosition"]
    assert task["anyOf"] == [{"type": "integer", "minimum": 1}, {"type": "null"}]
    previews = document["components"]["schemas"]["Task"]["properties"]["previewUrls"]
    assert previews["type"] == "array" and previews["items"] == {"type": "string"}


def test_responses_have_the_schemas_of_what_is_sent(document: dict[str, Any]) -> None:
    paths = document["paths"]
    schemas = document["components"]["schemas"]

    def ok(path: str, method: str = "get") -> dict[str, Any]:
        return paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]

    assert ok(f"{API}/tasks/{{task_id}}") == {"$ref": "#/components/schemas/Task"}
    assert ok(f"{API}/tasks/") == {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}
    assert ok(f"{API}/gen3turbo/expand", "post") == {"$ref": "#/components/schemas/Task"}
    assert ok(f"{API}/assets/{{asset_id}}") == {"$ref": "#/components/schemas/Asset"}
    assert ok(f"{API}/accounts/{{email}}") == {"$ref": "#/components/schemas/Account"}
    assert ok(f"{API}/accounts")["additionalProperties"] == {"$ref": "#/components/schemas/Account"}
    assert ok(f"{API}/features") == {"$ref": "#/components/schemas/Features"}
    assert ok(f"{API}/engines") == {"$ref": "#/components/schemas/Engines"}
    assert "artifacts" in schemas["Task"]["required"] and schemas["Task"]["additionalProperties"] is False
    assert schemas["Asset"]["properties"]["fileSize"]["type"] == "integer"
    artifact = schemas["Task"]["properties"]["artifacts"]["items"]
    assert artifact["properties"]["fileSize"]["type"] == "string"  # as the contract's artifacts show it
    assert set(schemas["Engines"]["properties"]["operations"]["properties"]) == {
        "upscale",
        "video_to_video",
        "expand",
        "extend",
    }


def test_request_bodies_come_from_the_field_specs(document: dict[str, Any]) -> None:
    content = document["paths"][f"{API}/gen3turbo/video"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data", "application/x-www-form-urlencoded"}
    body = content["application/json"]["schema"]
    assert body["required"] == ["assetId", "text_prompt"]
    assert body["properties"]["seconds"]["enum"] == [5, 10, None]  # JSON's null: not given
    assert body["properties"]["structure_transformation"] == {
        "type": ["number", "null"],
        "description": "How far the output may move from the input's structure.",
        "default": 3,
        "minimum": 0,
        "maximum": 10,
    }
    assert "null" not in content["multipart/form-data"]["schema"]["properties"]["seconds"]["type"]
    assert body["properties"]["model"]["enum"] == ["classic", None]  # what this server offers
    assert "pattern" in body["properties"]["assetId"]
    assert "pattern" in body["properties"]["replyUrl"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return (
                [node["$ref"]] if "$ref" in node else [ref for value in node.values() for ref in refs(value)]
            )
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", f"{API}/tasks/some-task", "GET, DELETE"),
        ("PUT", f"{API}/assets/", "GET, POST"),
        ("OPTIONS", f"{API}/gen3/extend", "POST"),
        ("TRACE", f"{API}/accounts/a@b.co", "GET, POST, DELETE"),
        ("PATCH", "/health", "GET"),
    ],
)
def test_a_method_a_path_does_not_take_is_405_with_allow(
    idle_server: Server, method: str, path: str, allowed: str
) -> None:
    response = httpx.request(method, idle_server.base_url + path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"error": "Method not allowed.", "code": 405}


def test_a_finished_task_and_its_artifact_match_their_schemas(
    make_server: Callable[..., Server], short_clip: Path, document: dict[str, Any]
) -> None:
    """The fuzzed server runs no work, so artifacts are checked here, on a task that ran."""
    schemas = document["components"]["schemas"]
    api = make_server().new_user()
    api.create_account()
    asset = api.upload(short_clip, "video/mp4")
    task = api.wait(api.create("gen3alpha/upscale", {"assetId": asset["assetId"]}).json()["taskId"])
    assert task["status"] == "SUCCEEDED" and task["artifacts"], task
    jsonschema_rs.validator_for(schemas["Task"]).validate(task)
    artifact = api.http.get(f"/assets/{task['artifacts'][0]['assetId']}").json()
    jsonschema_rs.validator_for(schemas["Asset"]).validate(artifact)
    assert artifact["taskId"] == task["taskId"]
