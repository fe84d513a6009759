"""The response models read every example response of the contract's pages (shared/reference/*.txt).

The examples are kept beside this file (reference_responses/<page>.json, extracted verbatim), so the
tests run without shared/; where shared/ is at hand, a test checks the copies still match the pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from taxiway.client import ApiError, Busy, Client, InsufficientCredits, Task
from taxiway.client.errors import error_from_response

HERE = Path(__file__).parent / "reference_responses"
ROOT = Path(__file__).parents[2]
PAGES = next((p for p in (ROOT / "shared", ROOT.parent / "shared") if (p / "reference").is_dir()), None)


def response_examples(text: str) -> list[dict[str, Any]]:
    """Every JSON object in a page that is a response: a task (taskId, status) or an error."""
    decoder = json.JSONDecoder()
    found, start = [], text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:  # TypeScript models and prose braces
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and {"taskId", "status", "error"} & value.keys():
            found.append(value)
        start = text.find("{", end)
    return found


def _examples(kind: str) -> list[Any]:
    cases = []
    for path in sorted(HERE.glob("*.json")):
        for index, body in enumerate(json.loads(path.read_text())):
            is_task = "status" in body  # a task's own `error` is null until it fails
            if is_task == (kind == "task"):
                cases.append(pytest.param(body, id=f"{path.stem}-{index}"))
    return cases


@pytest.mark.skipif(PAGES is None, reason="shared/reference is not beside the repository")
def test_the_kept_examples_are_the_pages() -> None:
    assert PAGES is not None
    pages = sorted((PAGES / "reference").glob("*.txt"))
    assert [page.stem for page in pages] == sorted(path.stem for path in HERE.glob("*.json"))
    for page in pages:
        assert response_examples(page.read_text()) == json.loads((HERE / f"{page.stem}.json").read_text())


@pytest.mark.parametrize("body", _examples("task"))
def test_task_examples_parse(body: dict[str, Any]) -> None:
    task = Task.from_json(body)
    assert task.raw == body
    assert task.task_id == body.get("taskId", "")
    assert task.status == body["status"] and task.is_live != task.is_finished
    assert task.progress_ratio == float(body["progressRatio"] or 0)  # "0", "1", a number or null
    assert task.reply_ref == body.get("replyRef") and task.reply_url == body.get("replyUrl")
    assert task.options == body.get("options", {}) and task.error is None
    if "estimatedTimeToStartSeconds" in body:
        assert task.estimated_time_to_start == 0
    if "features" in body:
        assert task.features is not None and task.features.storage_gb == 500
        assert (task.features.permitted, task.features.used, task.features.available) == (2250, 1315, 935)
    if "code" in body:  # fields the models do not name are kept as they came
        assert task.model_extra == {"id": body["id"], "code": 200}
    for artifact, sent in zip(task.artifacts, body["artifacts"], strict=True):
        assert (artifact.asset_id, artifact.filename, artifact.url) == (
            sent["assetId"],
            sent["filename"],
            sent["url"],
        )
        assert artifact.file_size == int(sent["fileSize"])  # a string on the page
        media = artifact.media
        assert (media.width, media.height, media.duration, media.frame_rate) == (4096, 2304, 8, 50)


# Two error examples carry no code: the page's headings give their status.
_STATUS_BY_MESSAGE = {"You do not have enough credits": 412, "You have too many tasks running": 429}


@pytest.mark.parametrize("body", _examples("error"))
def test_error_examples_become_typed_errors(body: dict[str, Any]) -> None:
    status = body.get("code") or next(s for m, s in _STATUS_BY_MESSAGE.items() if body["error"].startswith(m))
    error = error_from_response(httpx.Response(status, json=body))
    assert (error.status, error.message, error.body) == (status, body["error"], body)
    assert isinstance(error, InsufficientCredits) == (status == 412)
    if isinstance(error, Busy) and "runningTasks" in body:
        running = error.running_tasks["<Runway account email>"]
        assert [task["taskId"] for task in running] == [
            task["taskId"] for task in body["runningTasks"]["<Runway account email>"]
        ]


def test_an_answer_of_another_shape_is_an_api_error() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=[1, 2])))
    with (
        Client("http://server.test", "token", http=http) as client,
        pytest.raises(ApiError, match=r"GET tasks/t: the server answered 200 with JSON of another shape"),
    ):
        client.get_task("t")
