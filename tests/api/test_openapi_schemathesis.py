"""Schemathesis over the whole OpenAPI document, against a real server: every check, bounded examples.

The schema is read from the app at import, for pytest collects one test per operation from it
(schemathesis.pytest.from_fixture would read it from the server, but it sets pytest's
Node._nodeid, which pytest 9.2 no longer has); the served /openapi.json is checked to be the same
document. Every case goes to one real server, as a real user with an account, two uploads and
two live tasks, so that valid requests reach the code behind the 401s and 404s.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st  # schemathesis brings hypothesis

from mediafiles import make_image, make_video
from support import Server, free_port, settings_for_test
from taxiway.api.app import create_app
from taxiway.assets.service import CONTENT_TYPES
from taxiway.core.settings import Settings
from taxiway.tasks.operations import OPERATIONS

EMAIL = "fuzz@example.com"
API = "/v1/runwayml"


def _media() -> dict[str, bytes]:
    """A tiny clip and a tiny still: what upload bodies are drawn from (random bytes would only
    test the probe's refusal). Made at import: schemathesis draws its coverage cases as it collects."""
    with tempfile.TemporaryDirectory() as folder:
        clip = make_video(Path(folder) / "clip.mp4", width=64, height=48, seconds=0.5, fps=12, audio=True)
        still = make_image(Path(folder) / "still.png", width=64, height=48)
        return {"video": clip.read_bytes(), "image": still.read_bytes()}


_MEDIA = _media()
for _type, (_kind, _) in CONTENT_TYPES.items():
    schemathesis.openapi.media_type(_type, st.just(_MEDIA[_kind]))

# Every check runs (the default). Bounded and reproducible: 20 fuzzed cases per operation besides
# the examples and coverage phases, the same ones every run, no shrinking, no example database.
# The token is sent with each call rather than generated: the document's bearer scheme is real,
# but schemathesis cannot know a token, and its own "missing token" cases would get ours added.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "max-examples": 20,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
            "with-security-parameters": False,
        },
    }
)
# The event streams stay open until their task finishes or the client goes away, and a fuzzed
# request would wait for that: they are left out here, and tests/api/test_task_events.py sends them
# every status they declare (their links, POST events/links, are fuzzed with the rest).
STREAMS = [f"{API}/tasks/{{task_id}}/events", f"{API}/events"]
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi(), config=CONFIG).exclude(
    path=STREAMS, method="GET"
)


@dataclass
class Target:
    """The server under test and what valid cases address on it."""

    server: Server
    token: str
    video: str
    still: str
    tasks: list[str]
    file: dict[str, str]  # key, expires and signature of the video's signed link

    def aim(self, case: Any) -> None:
        """Point a valid case at real resources, so that it reaches the code behind the 404s: the
        values stay valid, so the case stays what schemathesis generated it as."""
        label = case.operation.label
        pins = {
            f"GET {API}/assets/{{asset_id}}": {"asset_id": self.video},
            f"DELETE {API}/assets/{{asset_id}}": {"asset_id": self.still},  # 204, then 404
            f"GET {API}/tasks/{{task_id}}": {"task_id": self.tasks[0]},
            f"DELETE {API}/tasks/{{task_id}}": {"task_id": self.tasks[0]},  # cancelled, deleted, 404
            f"DELETE {API}/scheduler/{{task_id}}": {"task_id": self.tasks[1]},
            f"POST {API}/accounts/{{email}}": {"email": EMAIL},
            f"GET {API}/accounts/{{email}}": {"email": EMAIL},
            f"GET {API}/files/{{key}}": {"key": self.file["key"]},
        }
        case.path_parameters.update(pins.get(label, {}))
        if label == f"GET {API}/files/{{key}}":
            case.query = {
                **(case.query or {}),
                "expires": self.file["expires"],
                "signature": self.file["signature"],
            }
        if not isinstance(case.body, dict):
            return
        op = OPERATIONS.get(case.operation.path.removeprefix(f"{API}/"))
        if op is not None:
            case.body[op.video_field] = self.video
            if op.image_field and case.body.get(op.image_field) is not None:
                case.body[op.image_field] = self.still
        if "email" in case.body and case.body["email"] is not None:
            case.body["email"] = EMAIL  # accounts/{email}: the one rule the schema cannot state
        if label == f"POST {API}/events/links" and case.body.get("taskId") is not None:
            case.body["taskId"] = self.tasks[1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_databases: Callable[[], AbstractContextManager[str]],
    clip: Path,
    image: Path,
) -> Iterator[Target]:
    """One server per database: the fuzz found a PostgreSQL-only 500 (NUL in text) before. The
    parametrization also gives each operation's items distinct node ids, which pytest-xdist needs
    (schemathesis names them all after the test function otherwise, and xdist would run one)."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_databases()) if request.param == "postgresql" else ""
        data_dir = tmp_path_factory.mktemp("fuzzed")
        yield stack.enter_context(_fuzzed_server(data_dir, database_url, clip, image))


@contextlib.contextmanager
def _fuzzed_server(data_dir: Path, database_url: str, clip: Path, image: Path) -> Iterator[Target]:
    # No workers: tasks stay live, so cancelling and maxJobs have something to act on.
    settings = settings_for_test(
        data_dir, port=free_port(), workers=0, default_credits=10**9, database_url=database_url
    )
    server = Server(settings).start()
    try:
        user = server.new_user()
        user.create_account(EMAIL, max_jobs=10)
        video = user.upload(clip, "video/mp4")
        still = user.upload(image, "image/png")["assetId"]
        tasks = [
            user.create("gen3alpha/upscale", {"assetId": video["assetId"]}).json()["taskId"] for _ in range(2)
        ]
        served = httpx.get(server.base_url + "/openapi.json").json()
        assert served == schema.raw_schema, "the served document is not the one the cases come from"
        link = httpx.URL(video["url"])
        file = {
            "key": link.path.removeprefix(f"{API}/files/"),
            "expires": link.params["expires"],
            "signature": link.params["signature"],
        }
        yield Target(server, user.token, video["assetId"], still, tasks, file)
    finally:
        server.stop()


@schema.parametrize()
def test_every_operation_answers_as_documented(case: Any, target: Target) -> None:
    if case.meta is not None and case.meta.generation.mode.is_positive:
        target.aim(case)
    auth = {"Authorization": f"Bearer {target.token}"}
    response = case.call_and_validate(base_url=target.server.base_url, headers=auth)
    created = case.method == "POST" and case.operation.path.removeprefix(f"{API}/") in OPERATIONS
    if created and response.status_code == 200:
        # Cancelled at once: the account's maxJobs stays free for the next cases, which get past 429.
        httpx.delete(f"{target.server.base_url}{API}/tasks/{response.json()['taskId']}", headers=auth)
